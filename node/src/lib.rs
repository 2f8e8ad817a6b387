#![doc = include_str!("../README.md")]

pub mod db;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod http;
pub mod identity;
pub mod keys;
pub mod log_watch;
pub mod low_priority;
pub mod navigation;
pub mod personal;
pub mod protections;
pub mod session_cache;
pub mod settings;
pub mod sms;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use startup::{Application, RunningNode};

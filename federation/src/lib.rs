#![doc = include_str!("../README.md")]

pub mod backoff;
pub mod client;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod inbox;
pub mod merkle;
pub mod peers;
pub mod router;
pub mod token;
pub mod wire;

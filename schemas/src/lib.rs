#![doc = include_str!("../README.md")]

pub mod api;
pub mod divisions;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod openapi;
pub mod register;
pub mod registration;

//! Registration rules as plain functions: values in, `Result` out, no database.

pub mod applicant;
pub mod calendar;
pub mod certificate_access;
pub mod certificate_fields;
pub mod certificate_package;
pub mod codes;
pub mod huijiao;
pub mod log_watch;
pub mod material_files;
pub mod materials;
pub mod national;
pub mod notices;
pub mod parties;
pub mod passwords;
pub mod register;
pub mod rules;
pub mod share;
pub mod totp;
pub mod workflow;

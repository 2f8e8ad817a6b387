//! Database rows and the transactions that change them. Handlers call these; these call the
//! pure rules in `domain`.

pub mod applicants;
pub mod applications;
pub mod audit;
pub mod calendar;
pub mod certificates;
pub mod child_logs;
pub mod events;
pub mod inbox;
pub mod materials;
pub mod outbox;
pub mod register;
pub mod rekey;
pub mod rules;
pub mod staff;
pub mod tickets;
pub mod tlog;

use chrono::{NaiveDateTime, Utc};

/// The clock as stored: UTC without zone (TIMESTAMP on both backends).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

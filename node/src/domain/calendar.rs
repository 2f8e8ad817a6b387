//! Working days (工作日) for statutory time limits. Weekends are not working days; public
//! holidays are a later addition (as data per year).

use chrono::{Datelike, NaiveDate, Weekday};

pub fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The date `days` working days after `start` (the day of 受理 does not count).
pub fn add_working_days(start: NaiveDate, days: u32) -> NaiveDate {
    let mut d = start;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
        assert_eq!(add_working_days(fri, 1), NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"));
        assert_eq!(add_working_days(fri, 5), NaiveDate::from_ymd_opt(2026, 12, 4).expect("date"));
        assert_eq!(add_working_days(fri, 30), NaiveDate::from_ymd_opt(2027, 1, 8).expect("date"));
    }
}

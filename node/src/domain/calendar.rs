//! Working days (工作日) for statutory time limits (条例 Art. 20). Saturdays and Sundays are
//! rest days unless the year's arrangement makes them working days (调休上班); public holidays
//! (法定节假日) are rest days. The arrangement is data: the State Council publishes it each year and
//! an operator loads it (`bdc-node calendar import`, table `calendar_days`).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};

/// Days that differ from the weekday rule: `true` a working day, `false` a rest day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    exceptions: BTreeMap<NaiveDate, bool>,
}

impl Calendar {
    pub fn new(exceptions: impl IntoIterator<Item = (NaiveDate, bool)>) -> Self {
        Self { exceptions: exceptions.into_iter().collect() }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.exceptions.get(&d).copied().unwrap_or(!matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// The date `days` working days after `start` (the day of 受理 does not count).
    pub fn add_working_days(&self, start: NaiveDate, days: u32) -> NaiveDate {
        let mut d = start;
        let mut left = days;
        while left > 0 {
            let Some(next) = d.succ_opt() else { return d };
            d = next;
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days from `from` (exclusive) to `to` (inclusive); negative when `to` is earlier.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let (a, b, sign) = if to >= from { (from, to, 1) } else { (to, from, -1) };
        let mut n = 0;
        let mut d = a;
        while d < b {
            let Some(next) = d.succ_opt() else { break };
            d = next;
            if self.is_working_day(d) {
                n += 1;
            }
        }
        sign * n
    }
}

/// One line of an arrangement file: `2026-10-01,holiday,国庆节` or `2026-09-27,workday,国庆节调休上班`.
pub fn parse_line(line: &str) -> Result<Option<(NaiveDate, bool, String)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with("date,") {
        return Ok(None);
    }
    let mut parts = line.splitn(3, ',');
    let (Some(date), Some(kind)) = (parts.next(), parts.next()) else {
        return Err(format!("「{line}」应为 日期,holiday|workday,名称"));
    };
    let date =
        NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| format!("日期「{date}」应为 YYYY-MM-DD"))?;
    let working = match kind.trim() {
        "holiday" => false,
        "workday" => true,
        other => return Err(format!("「{other}」应为 holiday（放假）或 workday（调休上班）")),
    };
    let name = parts.next().unwrap_or("").trim();
    if name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(format!("名称「{name}」过长或含控制字符"));
    }
    Ok(Some((date, working, name.to_owned())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn skips_weekends() {
        let c = Calendar::default();
        let fri = d(2026, 11, 27);
        assert_eq!(c.add_working_days(fri, 1), d(2026, 11, 30));
        assert_eq!(c.add_working_days(fri, 5), d(2026, 12, 4));
        assert_eq!(c.add_working_days(fri, 30), d(2027, 1, 8));
        assert_eq!(c.working_days_between(fri, d(2026, 12, 4)), 5);
        assert_eq!(c.working_days_between(d(2026, 12, 4), fri), -5);
    }

    #[test]
    fn holidays_and_make_up_days_count_as_the_arrangement_says() {
        // A week-long holiday from Wednesday 1 October, with Saturday 11 October worked.
        let mut days: Vec<(NaiveDate, bool)> = (1..=8).map(|x| (d(2025, 10, x), false)).collect();
        days.push((d(2025, 10, 11), true));
        let c = Calendar::new(days);
        // Accepted Tuesday 30 September: five working days are 9, 10, 11 (Sat, worked), 13, 14.
        assert_eq!(c.add_working_days(d(2025, 9, 30), 5), d(2025, 10, 14));
        assert!(!c.is_working_day(d(2025, 10, 6)));
        assert!(c.is_working_day(d(2025, 10, 11)));
    }

    #[test]
    fn arrangement_lines() {
        assert_eq!(parse_line("2025-10-01,holiday,国庆节"), Ok(Some((d(2025, 10, 1), false, "国庆节".into()))));
        assert_eq!(parse_line("# comment"), Ok(None));
        assert!(parse_line("2025-13-01,holiday,x").is_err());
        assert!(parse_line("2025-10-01,rest,x").is_err());
        assert!(parse_line("2025-10-01").is_err());
    }
}

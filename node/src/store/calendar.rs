//! The holiday arrangement (`calendar_days`).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::calendar_days;
use crate::domain::calendar::Calendar;

/// The calendar for dates from `from` on (a statutory limit of 60 working days never reaches a
/// year further).
pub fn load(conn: &mut AnyConnection, from: NaiveDate) -> QueryResult<Calendar> {
    let until = from + chrono::Duration::days(400);
    let rows: Vec<(NaiveDate, bool)> = calendar_days::table
        .filter(calendar_days::day.ge(from - chrono::Duration::days(400)))
        .filter(calendar_days::day.le(until))
        .select((calendar_days::day, calendar_days::working))
        .load(conn)?;
    Ok(Calendar::new(rows))
}

/// Set one day (replacing what was there).
pub fn put(conn: &mut AnyConnection, day: NaiveDate, working: bool, name: &str, by: &str) -> QueryResult<()> {
    diesel::delete(calendar_days::table.filter(calendar_days::day.eq(day))).execute(conn)?;
    diesel::insert_into(calendar_days::table)
        .values((
            calendar_days::day.eq(day),
            calendar_days::working.eq(working),
            calendar_days::name.eq(name),
            calendar_days::updated_by.eq(by),
            calendar_days::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The arrangement of one year: (day, working, name).
pub fn year(conn: &mut AnyConnection, year: i32) -> QueryResult<Vec<(NaiveDate, bool, String)>> {
    let (Some(a), Some(b)) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31)) else {
        return Ok(vec![]);
    };
    calendar_days::table
        .filter(calendar_days::day.between(a, b))
        .order(calendar_days::day.asc())
        .select((calendar_days::day, calendar_days::working, calendar_days::name))
        .load(conn)
}

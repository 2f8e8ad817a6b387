//! Re-encryption after a data-key rotation (密钥轮换): every sealed column is read in batches and
//! each value not under the current key is opened with the key it names and sealed again, with
//! the same associated data, under the current one. Each update is a compare-and-swap on the old
//! ciphertext, so a row the running node changed meanwhile is left for the next pass rather than
//! overwritten; passes repeat until nothing is left under an older key.

use diesel::prelude::*;

use crate::db::schema::{
    applicants, application_materials, applications, certificates, events, outbox, register_restrictions,
    register_rights, staff,
};
use crate::db::{AnyConnection, Db, DbError};
use crate::personal::Sealer;

/// Rows per read and per write transaction.
pub const BATCH: i64 = 500;

/// (cursor, sealed value, associated data) of a batch of rows.
type Batch<K> = QueryResult<Vec<(K, String, String)>>;

/// One sealed column: how to read a batch after a cursor, and how to swap one value.
struct Column<K> {
    name: &'static str,
    /// Rows per batch (small where each value is large).
    batch: i64,
    /// (cursor, sealed value, associated data) of up to `limit` rows after `after`.
    load: fn(&mut AnyConnection, &K, i64) -> Batch<K>,
    /// Replace `old` by `new` in the row `key`, if it still holds `old`.
    swap: fn(&mut AnyConnection, &K, &str, &str) -> QueryResult<usize>,
    /// Values not sealed under the key with this id.
    stale: fn(&mut AnyConnection, &str) -> QueryResult<i64>,
}

fn not_current(key_id: &str) -> String {
    format!("sm4gcm:{key_id}:%")
}

/// One pass over a column; returns how many values were sealed again.
fn pass<K: Clone + Default>(db: &Db, sealer: &Sealer, col: &Column<K>) -> Result<usize, String> {
    let mut after = K::default();
    let mut done = 0;
    loop {
        let rows = db.read(|c| (col.load)(c, &after, col.batch).map_err(DbError::from)).map_err(|e| e.to_string())?;
        let Some((last, _, _)) = rows.last() else { return Ok(done) };
        after = last.clone();
        let mut updates = vec![];
        for (key, sealed, context) in rows {
            match sealer.reseal(&sealed, &context) {
                Ok(Some(new)) => updates.push((key, sealed, new)),
                Ok(None) => {}
                Err(e) => {
                    return Err(format!("{}: a value does not open ({e}); nothing after it was changed", col.name));
                }
            }
        }
        if updates.is_empty() {
            continue;
        }
        done += db
            .write(|c| {
                let mut n = 0;
                for (key, old, new) in &updates {
                    n += (col.swap)(c, key, old, new)?;
                }
                Ok::<_, DbError>(n)
            })
            .map_err(|e| e.to_string())?;
    }
}

fn applications() -> Column<i64> {
    Column {
        name: "applications.parties",
        batch: BATCH,
        load: |c, after, limit| {
            use applications::dsl as a;
            let rows: Vec<(i64, String, String)> = a::applications
                .filter(a::id.gt(after))
                .order(a::id.asc())
                .limit(limit)
                .select((a::id, a::parties, a::business_no))
                .load(c)?;
            Ok(rows)
        },
        swap: |c, key, old, new| {
            use applications::dsl as a;
            diesel::update(a::applications.filter(a::id.eq(key)).filter(a::parties.eq(old)))
                .set(a::parties.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use applications::dsl as a;
            a::applications.filter(a::parties.not_like(not_current(id))).count().get_result(c)
        },
    }
}

fn certificates() -> Column<String> {
    Column {
        name: "certificates.content",
        batch: BATCH,
        load: |c, after, limit| {
            use certificates::dsl as t;
            let rows: Vec<(String, String)> = t::certificates
                .filter(t::id.gt(after))
                .order(t::id.asc())
                .limit(limit)
                .select((t::id, t::content))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v)| (id.clone(), v, super::certificates::content_context(&id))).collect())
        },
        swap: |c, key, old, new| {
            use certificates::dsl as t;
            diesel::update(t::certificates.filter(t::id.eq(key)).filter(t::content.eq(old)))
                .set(t::content.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use certificates::dsl as t;
            t::certificates.filter(t::content.not_like(not_current(id))).count().get_result(c)
        },
    }
}

fn events() -> Column<i64> {
    Column {
        name: "events.body",
        batch: BATCH,
        load: |c, after, limit| {
            use events::dsl as e;
            let rows: Vec<(i64, String, String, i64)> = e::events
                .filter(e::id.gt(after))
                .order(e::id.asc())
                .limit(limit)
                .select((e::id, e::body, e::division, e::seq))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v, d, seq)| (id, v, super::events::event_context(&d, seq))).collect())
        },
        swap: |c, key, old, new| {
            use events::dsl as e;
            diesel::update(e::events.filter(e::id.eq(key)).filter(e::body.eq(old))).set(e::body.eq(new)).execute(c)
        },
        stale: |c, id| {
            use events::dsl as e;
            e::events.filter(e::body.not_like(not_current(id))).count().get_result(c)
        },
    }
}

fn outbox() -> Column<i64> {
    Column {
        name: "outbox.payload",
        batch: BATCH,
        load: |c, after, limit| {
            use outbox::dsl as o;
            // Rows naming an event hold no sealed value (the event's body is rekeyed in `events`).
            let rows: Vec<(i64, String, String)> = o::outbox
                .filter(o::id.gt(after))
                .filter(o::kind.ne(super::outbox::EVENT_REF))
                .order(o::id.asc())
                .limit(limit)
                .select((o::id, o::payload, o::kind))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(id, v, kind)| {
                    let context = if kind == "application" {
                        super::outbox::APPLICATION_CONTEXT.to_owned()
                    } else {
                        super::events::outbox_context(&kind)
                    };
                    (id, v, context)
                })
                .collect())
        },
        swap: |c, key, old, new| {
            use outbox::dsl as o;
            diesel::update(o::outbox.filter(o::id.eq(key)).filter(o::payload.eq(old)))
                .set(o::payload.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use outbox::dsl as o;
            o::outbox
                .filter(o::kind.ne(super::outbox::EVENT_REF))
                .filter(o::payload.not_like(not_current(id)))
                .count()
                .get_result(c)
        },
    }
}

fn rights() -> Column<i64> {
    Column {
        name: "register_rights.holders",
        batch: BATCH,
        load: |c, after, limit| {
            use register_rights::dsl as r;
            let rows: Vec<(i64, String, String, String)> = r::register_rights
                .filter(r::id.gt(after))
                .order(r::id.asc())
                .limit(limit)
                .select((r::id, r::holders, r::unit_code, r::business_no))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v, u, b)| (id, v, super::register::context("right", &u, &b))).collect())
        },
        swap: |c, key, old, new| {
            use register_rights::dsl as r;
            diesel::update(r::register_rights.filter(r::id.eq(key)).filter(r::holders.eq(old)))
                .set(r::holders.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use register_rights::dsl as r;
            r::register_rights.filter(r::holders.not_like(not_current(id))).count().get_result(c)
        },
    }
}

fn restrictions() -> Column<i64> {
    Column {
        name: "register_restrictions.holders",
        batch: BATCH,
        load: |c, after, limit| {
            use register_restrictions::dsl as r;
            let rows: Vec<(i64, String, String, String)> = r::register_restrictions
                .filter(r::id.gt(after))
                .order(r::id.asc())
                .limit(limit)
                .select((r::id, r::holders, r::unit_code, r::business_no))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v, u, b)| (id, v, super::register::context("restriction", &u, &b))).collect())
        },
        swap: |c, key, old, new| {
            use register_restrictions::dsl as r;
            diesel::update(r::register_restrictions.filter(r::id.eq(key)).filter(r::holders.eq(old)))
                .set(r::holders.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use register_restrictions::dsl as r;
            r::register_restrictions.filter(r::holders.not_like(not_current(id))).count().get_result(c)
        },
    }
}

/// The sealed columns of applicant accounts (context `applicant:{field}:{id index}`).
macro_rules! applicant_column {
    ($fn_name:ident, $column:ident, $field:literal) => {
        fn $fn_name() -> Column<i64> {
            Column {
                name: concat!("applicants.", stringify!($column)),
                batch: BATCH,
                load: |c, after, limit| {
                    use applicants::dsl as a;
                    let rows: Vec<(i64, String, String)> = a::applicants
                        .filter(a::id.gt(after))
                        .order(a::id.asc())
                        .limit(limit)
                        .select((a::id, a::$column, a::id_index))
                        .load(c)?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, v, index)| (id, v, format!("applicant:{}:{index}", $field)))
                        .collect())
                },
                swap: |c, key, old, new| {
                    use applicants::dsl as a;
                    diesel::update(a::applicants.filter(a::id.eq(key)).filter(a::$column.eq(old)))
                        .set(a::$column.eq(new))
                        .execute(c)
                },
                stale: |c, id| {
                    use applicants::dsl as a;
                    a::applicants.filter(a::$column.not_like(not_current(id))).count().get_result(c)
                },
            }
        }
    };
}

applicant_column!(applicant_phones, phone, "phone");
applicant_column!(applicant_names, name, "name");
applicant_column!(applicant_ids, id_number, "id");

fn totp_secrets() -> Column<i64> {
    Column {
        name: "staff.totp_secret",
        batch: BATCH,
        load: |c, after, limit| {
            use staff::dsl as t;
            let rows: Vec<(i64, String)> = t::staff
                .filter(t::id.gt(after))
                .filter(t::totp_secret.is_not_null())
                .order(t::id.asc())
                .limit(limit)
                .select((t::id, t::totp_secret.assume_not_null()))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v)| (id, v, super::staff::totp_context(id))).collect())
        },
        swap: |c, key, old, new| {
            use staff::dsl as t;
            diesel::update(t::staff.filter(t::id.eq(key)).filter(t::totp_secret.eq(old)))
                .set(t::totp_secret.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use staff::dsl as t;
            t::staff
                .filter(t::totp_secret.is_not_null())
                .filter(t::totp_secret.not_like(not_current(id)))
                .count()
                .get_result(c)
        },
    }
}

fn totp_pending() -> Column<i64> {
    Column {
        name: "staff.totp_pending",
        batch: BATCH,
        load: |c, after, limit| {
            use staff::dsl as t;
            let rows: Vec<(i64, String)> = t::staff
                .filter(t::id.gt(after))
                .filter(t::totp_pending.is_not_null())
                .order(t::id.asc())
                .limit(limit)
                .select((t::id, t::totp_pending.assume_not_null()))
                .load(c)?;
            Ok(rows.into_iter().map(|(id, v)| (id, v, super::staff::totp_context(id))).collect())
        },
        swap: |c, key, old, new| {
            use staff::dsl as t;
            diesel::update(t::staff.filter(t::id.eq(key)).filter(t::totp_pending.eq(old)))
                .set(t::totp_pending.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use staff::dsl as t;
            t::staff
                .filter(t::totp_pending.is_not_null())
                .filter(t::totp_pending.not_like(not_current(id)))
                .count()
                .get_result(c)
        },
    }
}

/// Uploaded materials: each value is a whole file (up to the checklist's largest size), so a few
/// rows per batch.
fn materials() -> Column<i64> {
    Column {
        name: "application_materials.content",
        batch: 4,
        load: |c, after, limit| {
            use application_materials::dsl as m;
            let rows: Vec<(i64, String, String, String, String)> = m::application_materials
                .filter(m::id.gt(after))
                .order(m::id.asc())
                .limit(limit)
                .select((m::id, m::content, m::business_no, m::material_id, m::sm3))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(id, v, b, item, sm3)| (id, v, super::materials::context(&b, &item, &sm3)))
                .collect())
        },
        swap: |c, key, old, new| {
            use application_materials::dsl as m;
            diesel::update(m::application_materials.filter(m::id.eq(key)).filter(m::content.eq(old)))
                .set(m::content.eq(new))
                .execute(c)
        },
        stale: |c, id| {
            use application_materials::dsl as m;
            m::application_materials.filter(m::content.not_like(not_current(id))).count().get_result(c)
        },
    }
}

/// Values per sealed column not yet under the sealer's current key.
pub fn stale_counts(db: &Db, sealer: &Sealer) -> Result<Vec<(&'static str, i64)>, String> {
    let id = sealer.key_id();
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    let c: &mut AnyConnection = &mut conn;
    let count = |name, f: fn(&mut AnyConnection, &str) -> QueryResult<i64>, c: &mut AnyConnection| {
        f(c, &id).map(|n| (name, n)).map_err(|e| e.to_string())
    };
    Ok(vec![
        count(applications().name, applications().stale, c)?,
        count(certificates().name, certificates().stale, c)?,
        count(events().name, events().stale, c)?,
        count(outbox().name, outbox().stale, c)?,
        count(rights().name, rights().stale, c)?,
        count(restrictions().name, restrictions().stale, c)?,
        count(totp_secrets().name, totp_secrets().stale, c)?,
        count(totp_pending().name, totp_pending().stale, c)?,
        count(applicant_phones().name, applicant_phones().stale, c)?,
        count(applicant_names().name, applicant_names().stale, c)?,
        count(applicant_ids().name, applicant_ids().stale, c)?,
        count(materials().name, materials().stale, c)?,
    ])
}

/// Seal everything again under the current key, pass after pass until nothing is left under an
/// older one (at most `max_passes`); returns the values sealed again per column.
pub fn rekey_all(db: &Db, sealer: &Sealer, max_passes: usize) -> Result<Vec<(&'static str, usize)>, String> {
    let mut totals: Vec<(&'static str, usize)> = vec![];
    let mut add = |name: &'static str, n: usize| match totals.iter_mut().find(|(t, _)| *t == name) {
        Some((_, total)) => *total += n,
        None => totals.push((name, n)),
    };
    for _ in 0..max_passes.max(1) {
        add(applications().name, pass(db, sealer, &applications())?);
        add(certificates().name, pass(db, sealer, &certificates())?);
        add(events().name, pass(db, sealer, &events())?);
        add(outbox().name, pass(db, sealer, &outbox())?);
        add(rights().name, pass(db, sealer, &rights())?);
        add(restrictions().name, pass(db, sealer, &restrictions())?);
        add(totp_secrets().name, pass(db, sealer, &totp_secrets())?);
        add(totp_pending().name, pass(db, sealer, &totp_pending())?);
        add(applicant_phones().name, pass(db, sealer, &applicant_phones())?);
        add(applicant_names().name, pass(db, sealer, &applicant_names())?);
        add(applicant_ids().name, pass(db, sealer, &applicant_ids())?);
        add(materials().name, pass(db, sealer, &materials())?);
        if stale_counts(db, sealer)?.iter().all(|(_, n)| *n == 0) {
            return Ok(totals);
        }
    }
    let left: Vec<String> =
        stale_counts(db, sealer)?.into_iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t}: {n}")).collect();
    Err(format!(
        "values still under older keys after {max_passes} passes ({}); run `bdc-node keys rekey` again",
        left.join(", ")
    ))
}

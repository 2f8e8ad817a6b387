//! The audit chain detects an altered, a deleted and an inserted record, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bdc_node::db::{Db, DbError};
use bdc_node::store::audit::{self, Entry, Kind};
use diesel::RunQueryDsl;
use federation::crypto::SigningKey;

fn dbs() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![(Db::open(&format!("sqlite://{}", dir.path().join("a.db").display()), 4).unwrap(), Some(dir))];
    if let Ok(url) = std::env::var("TEST_PG_URL") {
        use diesel::{Connection, pg::PgConnection};
        let mut admin = PgConnection::establish(&url).expect("TEST_PG_URL reachable");
        let name = format!("bdc_audit_{}", ulid::Ulid::new().to_string().to_lowercase());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).unwrap();
        let base = url.rsplit_once('/').unwrap().0;
        all.push((Db::open(&format!("{base}/{name}"), 4).unwrap(), None));
    }
    all
}

fn fill(db: &Db, n: usize) {
    for i in 0..n {
        db.write(|c| {
            audit::append(
                c,
                &Entry::new("320102", "staff:1", Kind::Staff, "accept", &format!("req-{i}"))
                    .business("32010220261129000001")
                    .detail(format!("step {i}")),
            )
            .map_err(DbError::from)
        })
        .unwrap();
    }
}

fn verify(db: &Db, key: &SigningKey) -> Result<audit::Report, audit::Break> {
    let mut conn = db.conn().unwrap();
    audit::verify(&mut conn, &key.public_key()).unwrap()
}

fn exec(db: &Db, sql: &str) {
    let mut conn = db.conn().unwrap();
    diesel::sql_query(sql).execute(&mut *conn).unwrap();
}

#[test]
fn tampering_is_found_at_the_record() {
    for (db, _dir) in dbs() {
        let key = SigningKey::generate();
        fill(&db, 10);
        db.write(|c| audit::checkpoint(c, &key).map_err(DbError::from)).unwrap();
        fill(&db, 2);
        let report = verify(&db, &key).unwrap();
        assert_eq!((report.records, report.checkpoints, report.unsigned_tail), (12, 1, 2));

        // One byte changed.
        exec(&db, "UPDATE audit_log SET detail = 'step X' WHERE seq = 4");
        let b = verify(&db, &key).unwrap_err();
        assert_eq!(b.seq, 4, "{b:?}");
        assert!(b.reason.contains("altered"));
        exec(&db, "UPDATE audit_log SET detail = 'step 3' WHERE seq = 4");
        assert!(verify(&db, &key).is_ok());

        // A row deleted.
        exec(&db, "DELETE FROM audit_log WHERE seq = 6");
        let b = verify(&db, &key).unwrap_err();
        assert_eq!(b.seq, 6, "{b:?}");
        assert!(b.reason.contains("missing"));
    }
}

#[test]
fn an_inserted_record_is_found() {
    for (db, _dir) in dbs() {
        let key = SigningKey::generate();
        fill(&db, 5);
        // Shift records 3.. up by one and slip a forged record in at 3.
        exec(&db, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3");
        exec(&db, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100");
        exec(
            &db,
            "INSERT INTO audit_log (seq, division, at, actor, kind, action, business_no, outcome, detail, request_id, prev_hash, hash) \
             SELECT 3, division, at, 'staff:9', kind, 'issue', business_no, outcome, 'forged', request_id, hash, hash FROM audit_log WHERE seq = 2",
        );
        let b = verify(&db, &key).unwrap_err();
        assert_eq!(b.seq, 3, "{b:?}");
        // A record appended after the head (not through the chain).
        let (db2, _d2) = dbs().into_iter().next().unwrap();
        fill(&db2, 3);
        exec(
            &db2,
            "INSERT INTO audit_log (seq, division, at, actor, kind, action, business_no, outcome, detail, request_id, prev_hash, hash) \
             SELECT 4, division, at, actor, kind, action, business_no, outcome, detail, request_id, hash, hash FROM audit_log WHERE seq = 3",
        );
        assert_eq!(verify(&db2, &key).unwrap_err().seq, 4);
    }
}

#[test]
fn a_checkpoint_protects_against_a_recomputed_chain() {
    for (db, _dir) in dbs() {
        let key = SigningKey::generate();
        fill(&db, 4);
        db.write(|c| audit::checkpoint(c, &key).map_err(DbError::from)).unwrap();
        // Someone with database access rewrites record 2 and recomputes every hash after it.
        exec(&db, "UPDATE audit_log SET detail = 'rewritten' WHERE seq = 2");
        let mut conn = db.conn().unwrap();
        let mut records = audit::query(&mut conn, &audit::Filter { limit: 100, ..Default::default() }).unwrap();
        let mut prev = audit::GENESIS.to_owned();
        for r in records.iter_mut() {
            r.prev_hash = prev.clone();
            r.hash = audit::record_hash(r);
            prev = r.hash.clone();
            exec(
                &db,
                &format!(
                    "UPDATE audit_log SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
                    r.prev_hash, r.hash, r.seq
                ),
            );
        }
        exec(&db, &format!("UPDATE audit_head SET hash = '{prev}' WHERE id = 1"));
        let b = verify(&db, &key).unwrap_err();
        assert_eq!(b.seq, 4, "{b:?}");
        assert!(b.reason.contains("checkpoint"), "{b:?}");
    }
}

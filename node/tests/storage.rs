//! One storage suite, run on SQLite and — when `TEST_PG_URL` is set, as CI sets it — on a fresh
//! PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bdc_node::db::counters;
use bdc_node::personal::Sealer;
use bdc_node::store;
use bdc_node::store::applications::OfficeCtx;
use chrono::Utc;
use common::{backends, office};
use federation::crypto::{SigningKey, Sm4Key};
use federation::delivery::OutboxStore;
use schemas::api::{ActionRequest, ApplicantInput, SubmitApplication};
use schemas::ids::{DivisionCode, IdType, NodeId, UnitCode};
use schemas::registration::{Action, PartyRole, RegistrationKind};

#[test]
fn counters_are_gap_free_under_concurrency() {
    for (db, _dir) in backends() {
        let db = Arc::new(db);
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    (0..25)
                        .map(|_| {
                            db.write(|c| {
                                counters::next(c, "320102", "cert_no:2026:right").map_err(bdc_node::db::DbError::from)
                            })
                            .unwrap()
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (1..=400).collect::<Vec<i64>>(), "{:?}", db.backend());
    }
}

#[test]
fn a_failed_transaction_leaves_no_gap() {
    for (db, _dir) in backends() {
        db.write(|c| counters::next(c, "320102", "x").map_err(bdc_node::db::DbError::from)).unwrap();
        let failed: Result<(), bdc_node::db::DbError> = db.write(|c| {
            counters::next(c, "320102", "x")?;
            Err(diesel::result::Error::RollbackTransaction.into())
        });
        assert!(failed.is_err());
        let next = db.write(|c| counters::next(c, "320102", "x").map_err(bdc_node::db::DbError::from)).unwrap();
        assert_eq!(next, 2, "{:?}", db.backend());
    }
}

fn application() -> SubmitApplication {
    SubmitApplication {
        unit_code: UnitCode::parse("320102003001GB00012F00010203").unwrap(),
        kind: RegistrationKind::First,
        applicants: vec![ApplicantInput {
            name: "张三".into(),
            id_type: IdType::IdCard,
            id_number: "110101199003074477".into(),
            phone: Some("13812341234".into()),
            role: PartyRole::RightHolder,
            share: None,
        }],
        division: None,
        location: Some("南京市玄武区北京东路41号".into()),
        details: None,
    }
}

#[test]
fn the_registration_flow_commits_row_event_and_outbox_together() {
    for (db, _dir) in backends() {
        let key = SigningKey::generate();
        let sealer = Sealer::new(Sm4Key::generate());
        let office = office();
        let me = NodeId::parse("nj-xuanwu").unwrap();
        let parent = NodeId::parse("js-province").unwrap();
        let ctx = OfficeCtx { me: &me, parent: Some(&parent), key: &key, sealer: &sealer, office: &office };
        let request = application();
        let parties = bdc_node::domain::parties::check_parties(&request.applicants).unwrap();
        let row = db
            .write(|c| {
                store::applications::submit(
                    c,
                    &ctx,
                    &request,
                    parties.clone(),
                    vec![],
                    &me,
                    Some("01JTICKET00000000000000000"),
                    Utc::now(),
                )
            })
            .unwrap();
        assert!(row.business_no.starts_with("320102"));
        // Personal data is sealed in the row.
        assert!(!row.parties.contains("110101199003074477") && !row.parties.contains("张三"));
        // The same ticket again (a retried forward) finds the same application.
        let again = db
            .write(|c| {
                store::applications::submit(
                    c,
                    &ctx,
                    &request,
                    parties.clone(),
                    vec![],
                    &me,
                    Some("01JTICKET00000000000000000"),
                    Utc::now(),
                )
            })
            .unwrap();
        assert_eq!(again.business_no, row.business_no);

        for action in [Action::Accept, Action::Review, Action::Record, Action::Certify, Action::Issue] {
            db.write(|c| {
                store::applications::act(
                    c,
                    &ctx,
                    &row.business_no,
                    &ActionRequest { action, reasons: vec![], missing: vec![] },
                    Utc::now(),
                )
            })
            .unwrap();
        }
        // An action that fails its rule writes nothing: not the row, not an event.
        let err = db.write(|c| {
            store::applications::act(
                c,
                &ctx,
                &row.business_no,
                &ActionRequest { action: Action::Issue, reasons: vec![], missing: vec![] },
                Utc::now(),
            )
        });
        assert!(err.is_err());

        let outbox = store::outbox::DbOutbox { db: db.clone(), sealer: sealer.clone() };
        let pending = outbox.pending(&parent, 100).unwrap();
        // submitted, accepted, reviewed, recorded, certified, issued + the certificate.
        assert_eq!(pending.len(), 7, "{:?}", db.backend());
        let seqs: Vec<u64> = pending
            .iter()
            .map(|i| match i {
                federation::delivery::OutboxItem::Local { event, .. } => event.seq,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(seqs, (1..=7).collect::<Vec<u64>>());
        // What goes up is the stored event itself; the outbox row only names it (no second
        // sealed copy written inside the writer).
        let stored = store::events::for_business(&mut db.conn().unwrap(), &sealer, &row.business_no).unwrap();
        let sent: Vec<_> = pending
            .iter()
            .filter_map(|i| match i {
                federation::delivery::OutboxItem::Local { event, .. } => Some(serde_json::to_value(event).unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(sent, stored.iter().map(|e| serde_json::to_value(e).unwrap()).collect::<Vec<_>>());
        {
            use bdc_node::db::schema::outbox::dsl as o;
            use diesel::prelude::*;
            let rows: Vec<(String, String)> =
                o::outbox.order(o::id.asc()).select((o::kind, o::payload)).load(&mut db.conn().unwrap()).unwrap();
            let expected: Vec<(String, String)> = (1..=7).map(|n| ("event".to_owned(), n.to_string())).collect();
            assert_eq!(rows, expected);
        }
        let ids: Vec<i64> = pending.iter().map(|i| i.id()).take(3).collect();
        outbox.delivered(&parent, &ids).unwrap();
        assert_eq!(outbox.pending(&parent, 100).unwrap().len(), 4);
        assert_eq!(store::outbox::backlog(&db, "js-province").unwrap(), 4);
        {
            // A row queued by an earlier version (kind `local`, holding a sealed copy) is still sent.
            use bdc_node::db::schema::outbox::dsl as o;
            use diesel::prelude::*;
            let text = serde_json::to_string(&stored[0]).unwrap();
            diesel::insert_into(o::outbox)
                .values((
                    o::peer.eq(parent.as_str()),
                    o::division.eq("320102"),
                    o::kind.eq("local"),
                    o::payload.eq(sealer.seal_str(&text, &store::events::outbox_context("local"))),
                    o::created_at.eq(Utc::now().naive_utc()),
                ))
                .execute(&mut db.conn().unwrap())
                .unwrap();
            let pending = outbox.pending(&parent, 100).unwrap();
            assert_eq!(pending.len(), 5);
            match pending.last() {
                Some(federation::delivery::OutboxItem::Local { event, .. }) => {
                    assert_eq!(serde_json::to_string(event).unwrap(), text);
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        let mut conn = db.conn().unwrap();
        let certs = store::certificates::links_for_business(&mut conn, &row.business_no).unwrap();
        assert_eq!(certs.len(), 1);
        let cert = store::certificates::get(&mut conn, &sealer, &certs[0].0).unwrap().unwrap();
        assert_eq!(certs[0].1, bdc_node::domain::certificate_access::access_code(&cert.signature), "its 查验码");
        assert_eq!(
            cert.number,
            "苏(2026)南京市不动产权第0000001号".replace("2026", &Utc::now().format("%Y").to_string())
        );
        key.public_key().verify(cert.content.as_bytes(), &federation::crypto::unb64(&cert.signature).unwrap()).unwrap();
    }
}

#[test]
fn the_inbox_keeps_each_event_once_and_refuses_a_replayed_envelope() {
    use federation::inbox::OpenedBatch;
    use schemas::envelope::{Event, EventBody, ProgressEvent};
    use schemas::ids::BusinessNo;
    use schemas::registration::Stage;
    for (db, _dir) in backends() {
        let key = SigningKey::generate();
        let sealer = Sealer::new(Sm4Key::generate());
        let origin = DivisionCode::parse("320102").unwrap();
        let me = NodeId::parse("nj-xuanwu").unwrap();
        let events: Vec<Event> = (1..=4)
            .map(|seq| Event {
                origin: origin.clone(),
                seq,
                occurred_at: Utc::now(),
                body: EventBody::Progress(ProgressEvent {
                    business_no: BusinessNo::parse("32010220261129000001").unwrap(),
                    unit_code: UnitCode::parse("320102003001GB00012F00010203").unwrap(),
                    kind: RegistrationKind::Transfer,
                    stage: Stage::Submitted,
                    due_date: None,
                    notes: vec![],
                    applicant_proofs: vec![],
                }),
            })
            .collect();
        let batch = federation::wire::seal_batch(&origin, &me, &key, &events[..3]).unwrap();
        let opened = vec![OpenedBatch { batch: batch.clone(), events: events[..3].to_vec() }];
        let parent = NodeId::parse("nation").unwrap();
        let stored = db
            .write(|c| -> Result<_, store::inbox::InboxError> {
                store::inbox::remember_envelope(c, "01JENVELOPE000000000000001", "nj-xuanwu")?;
                store::inbox::store_batches(c, &sealer, &me, Some(&parent), &opened, &[])
            })
            .unwrap();
        assert_eq!((stored.accepted, stored.duplicates), (3, 0));
        let replay = db.write(|c| store::inbox::remember_envelope(c, "01JENVELOPE000000000000001", "nj-xuanwu"));
        assert!(matches!(replay, Err(store::inbox::InboxError::Replayed)));
        // Events 2..=4 re-batched: one new, two held.
        let batch2 = federation::wire::seal_batch(&origin, &me, &key, &events[1..]).unwrap();
        let opened2 = vec![OpenedBatch { batch: batch2, events: events[1..].to_vec() }];
        let stored = db
            .write(|c| -> Result<_, store::inbox::InboxError> {
                store::inbox::remember_envelope(c, "01JENVELOPE000000000000002", "nj-xuanwu")?;
                store::inbox::store_batches(c, &sealer, &me, Some(&parent), &opened2, &[])
            })
            .unwrap();
        assert_eq!((stored.accepted, stored.duplicates), (1, 2), "{:?}", db.backend());
        let mut conn = db.conn().unwrap();
        assert_eq!(store::inbox::watermark(&mut conn, "320102").unwrap(), (4, 4));
        assert_eq!(store::events::origin_summary(&mut conn, "320102").unwrap(), (4, Some(4)));
        // Both batches are queued for the parent, intact.
        assert_eq!(store::outbox::backlog(&db, "nation").unwrap(), 2);
    }
}

#[test]
fn concurrent_writers_share_commits_but_each_stays_all_or_nothing() {
    for (db, _dir) in backends() {
        let db = Arc::new(db);
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let mut ok = 0i64;
                    for i in 0..40 {
                        let r: Result<(), bdc_node::db::DbError> = db.write(|c| {
                            counters::next(c, "320102", &format!("thread-{t}"))?;
                            counters::next(c, "320102", "all")?;
                            // Every third write fails after writing: none of it may remain.
                            if i % 3 == 0 {
                                return Err(diesel::result::Error::RollbackTransaction.into());
                            }
                            Ok(())
                        });
                        ok += i64::from(r.is_ok());
                    }
                    ok
                })
            })
            .collect();
        let per_thread: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(per_thread.iter().all(|n| *n == 26), "{per_thread:?}");
        let mut c = db.conn().unwrap();
        for t in 0..16 {
            assert_eq!(counters::current(&mut c, "320102", &format!("thread-{t}")).unwrap(), 26, "{:?}", db.backend());
        }
        assert_eq!(counters::current(&mut c, "320102", "all").unwrap(), 16 * 26);
    }
}

/// A writer that bumps counter `name` and holds the writer's turn until another writer waits
/// for it (so that the other joins its batch); returns once it holds the turn.
fn write_until_another_waits(
    db: &Arc<bdc_node::db::Db>,
    name: &'static str,
) -> std::thread::JoinHandle<Result<(), bdc_node::db::DbError>> {
    write_until_others_wait(db, name, 1)
}

/// [`write_until_another_waits`], until `others` writers wait.
fn write_until_others_wait(
    db: &Arc<bdc_node::db::Db>,
    name: &'static str,
    others: usize,
) -> std::thread::JoinHandle<Result<(), bdc_node::db::DbError>> {
    use std::time::Duration;
    let (started, has_turn) = std::sync::mpsc::channel();
    let db = Arc::clone(db);
    let writer = std::thread::spawn(move || {
        db.write(|c| {
            counters::next(c, "320102", name)?;
            started.send(()).unwrap();
            let t = std::time::Instant::now();
            while db.writers_waiting() < others && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        })
    });
    has_turn.recv().unwrap();
    writer
}

#[test]
fn queued_and_borrowing_writers_share_commits_each_stays_all_or_nothing_and_none_starves() {
    for (db, _dir) in backends() {
        let db = Arc::new(db);
        let before = db.writer_stats();
        // Even threads queue owned closures (`write_owned`), odd ones wait for the turn with
        // borrowing closures (`write`): both kinds run in the same batches.
        let threads: Vec<_> = (0..12)
            .map(|t| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let mut ok = 0i64;
                    for i in 0..40 {
                        let name = format!("thread-{t}");
                        let work = move |c: &mut bdc_node::db::AnyConnection| {
                            counters::next(c, "320102", &name)?;
                            counters::next(c, "320102", "all")?;
                            // Every third write fails after writing: none of it may remain.
                            if i % 3 == 0 {
                                return Err(diesel::result::Error::RollbackTransaction.into());
                            }
                            Ok(())
                        };
                        let r: Result<(), bdc_node::db::DbError> =
                            if t % 2 == 0 { db.write_owned(work) } else { db.write(work) };
                        ok += i64::from(r.is_ok());
                    }
                    ok
                })
            })
            .collect();
        let per_thread: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(per_thread.iter().all(|n| *n == 26), "{per_thread:?}");
        let mut c = db.conn().unwrap();
        for t in 0..12 {
            assert_eq!(counters::current(&mut c, "320102", &format!("thread-{t}")).unwrap(), 26, "{:?}", db.backend());
        }
        assert_eq!(counters::current(&mut c, "320102", "all").unwrap(), 12 * 26);
        if db.backend() == bdc_node::db::Backend::Sqlite {
            let after = db.writer_stats();
            assert_eq!(after.closures - before.closures, 12 * 40, "{after:?}");
            assert!(after.commits - before.commits < 12 * 40, "some commits were shared: {after:?}");
        }
    }
}

#[test]
fn a_queued_closure_that_panics_fails_its_batch_and_its_caller_gets_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(bdc_node::db::Db::open(&format!("sqlite://{}", dir.path().join("q.db").display()), 4).unwrap());
    // B holds the turn until A's owned closure is queued; B then runs A's closure in its batch.
    let b = write_until_another_waits(&db, "b");
    let a = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            db.write_owned(|c| -> Result<(), bdc_node::db::DbError> {
                counters::next(c, "320102", "a")?;
                panic!("a bug in a queued write closure");
            })
        })
    };
    // A's caller is answered with an error (the panic stays on the thread that ran it, and is
    // caught there); B's batch was rolled back with it.
    let a = a.join().expect("A's caller does not panic");
    assert!(a.as_ref().is_err_and(|e| e.to_string().contains("panicked")), "{a:?}");
    let b = b.join().unwrap();
    assert!(b.as_ref().is_err_and(|e| e.to_string().contains("panicked")), "{b:?}");
    db.write_owned(|c| counters::next(c, "320102", "c").map_err(bdc_node::db::DbError::from)).unwrap();
    let mut c = db.conn().unwrap();
    assert_eq!(counters::current(&mut c, "320102", "a").unwrap(), 0);
    assert_eq!(counters::current(&mut c, "320102", "b").unwrap(), 0);
    assert_eq!(counters::current(&mut c, "320102", "c").unwrap(), 1);
}

#[test]
fn a_closure_that_ends_the_shared_transaction_fails_its_batch_and_the_next_one_is_answered_truly() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(bdc_node::db::Db::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 4).unwrap());
    // B holds the turn until A and C are queued; A ends the shared transaction behind the
    // writer's back (as SQLite does on a full disk), C writes after it.
    let b = write_until_others_wait(&db, "b", 2);
    let queue = |f: fn(&mut bdc_node::db::AnyConnection) -> Result<(), bdc_node::db::DbError>| {
        let writer = Arc::clone(&db);
        let waiting = db.writers_waiting();
        let t = std::thread::spawn(move || writer.write_owned(f));
        let start = std::time::Instant::now();
        while db.writers_waiting() == waiting && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        t
    };
    let a = queue(|c| {
        counters::next(c, "320102", "a")?;
        c.batch_execute("ROLLBACK").map_err(bdc_node::db::DbError::from)
    });
    let c = queue(|c| counters::next(c, "320102", "c").map(|_| ()).map_err(bdc_node::db::DbError::from));
    let (a, b, c) = (a.join().unwrap(), b.join().unwrap(), c.join().unwrap());
    assert!(a.is_err(), "{a:?}");
    assert!(b.is_err(), "B's batch was lost with the transaction: {b:?}");
    let mut conn = db.conn().unwrap();
    let stored = |conn: &mut _, name| counters::current(conn, "320102", name).unwrap();
    assert_eq!((stored(&mut conn, "a"), stored(&mut conn, "b")), (0, 0));
    // C's answer says what happened to its write.
    assert_eq!(c.is_ok(), stored(&mut conn, "c") == 1, "C answered {c:?}");
    assert!(c.is_ok(), "C ran in a batch of its own: {c:?}");
}

#[test]
fn a_panicking_writer_fails_its_batch_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(bdc_node::db::Db::open(&format!("sqlite://{}", dir.path().join("p.db").display()), 4).unwrap());
    // B writes, then waits for its batch's commit because A is queued behind it; A panics.
    let b = write_until_another_waits(&db, "b");
    let a = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                db.write(|c| -> Result<(), bdc_node::db::DbError> {
                    counters::next(c, "320102", "a")?;
                    panic!("a bug in a write closure");
                })
            }))
        })
    };
    assert!(a.join().unwrap().is_err(), "A panicked");
    assert!(b.join().unwrap().is_err(), "B's batch was rolled back with A's panic, and B was told");
    // The writer goes on, and nothing of the failed batch remains.
    db.write(|c| counters::next(c, "320102", "c").map_err(bdc_node::db::DbError::from)).unwrap();
    let mut c = db.conn().unwrap();
    assert_eq!(counters::current(&mut c, "320102", "a").unwrap(), 0);
    assert_eq!(counters::current(&mut c, "320102", "b").unwrap(), 0);
    assert_eq!(counters::current(&mut c, "320102", "c").unwrap(), 1);
}

#[test]
fn the_verification_read_gives_the_certificate_its_issue_leaf_and_the_log_length() {
    use schemas::api::CertificateStatus;
    use schemas::envelope::CertificateRecord;
    use schemas::ids::{BusinessNo, CertificateId, PROPERTY_CERTIFICATE_TYPE};
    for (db, _dir) in backends() {
        let key = SigningKey::generate();
        let sealer = Sealer::new(Sm4Key::generate());
        let division = DivisionCode::parse("320102").unwrap();
        let record = |serial: &str| {
            let content = format!("{{\"serial\":\"{serial}\",\"holders\":[\"张三\"]}}");
            CertificateRecord {
                id: CertificateId::new(PROPERTY_CERTIFICATE_TYPE, "320102", serial, 1).unwrap(),
                number: format!("苏(2026)南京市不动产权第{serial}号"),
                business_no: BusinessNo::new(&division, Utc::now().date_naive(), 1).unwrap(),
                issuer: division.clone(),
                issuer_node: NodeId::parse("nj-xuanwu").unwrap(),
                key_id: key.key_id(),
                signature: federation::crypto::b64(&key.sign(content.as_bytes())),
                content,
                issued_at: Utc::now(),
            }
        };
        let (first, second) = (record("202600000001"), record("202600000002"));
        let mut conn = db.conn().unwrap();
        assert!(
            store::certificates::get_for_verification(&mut conn, &sealer, first.id.as_str()).unwrap().is_none(),
            "{:?}",
            db.backend()
        );
        // Leaves: 0 = first issued, 1 = second issued, 2 = first voided.
        db.write(|c| {
            store::certificates::insert_record(c, &sealer, &first)?;
            store::certificates::insert_record(c, &sealer, &second)?;
            store::certificates::set_status(c, first.id.as_str(), CertificateStatus::Void, "测试")
                .map_err(bdc_node::db::DbError::from)
        })
        .unwrap();
        for (record, index) in [(&first, 0), (&second, 1)] {
            let found =
                store::certificates::get_for_verification(&mut conn, &sealer, record.id.as_str()).unwrap().unwrap();
            let row = store::certificates::get(&mut conn, &sealer, record.id.as_str()).unwrap().unwrap();
            assert_eq!(format!("{:?}", found.row), format!("{row:?}"), "{:?}", db.backend());
            assert_eq!(found.row.content, record.content);
            let entry = store::tlog::certificate_entry(record.id.as_str(), &record.content, &record.signature);
            assert_eq!(found.leaf, Some((index, entry)), "{:?}", db.backend());
            assert_eq!(found.log_end, 3, "{:?}", db.backend());
        }
    }
}

#[test]
fn an_answered_write_is_on_disk_and_a_failed_sync_stops_all_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let db = bdc_node::db::Db::open(&format!("sqlite://{}", path.display()), 4).unwrap();
    let write = |name: &str| db.write(|c| counters::next(c, "320102", name).map_err(bdc_node::db::DbError::from));
    // Writes answered, and each answer waited for its own WAL sync (one per commit).
    for _ in 0..5 {
        write("a").unwrap();
    }
    let stats = db.writer_stats();
    assert_eq!((stats.closures, stats.commits), (5, 5), "{stats:?}");
    db.wait_durable();
    // The WAL file is replaced behind the writer's back: SQLite commits into the file it holds,
    // but the writer cannot sync what it answers for. It says so and takes no further write.
    let wal = dir.path().join("s.db-wal");
    std::fs::rename(&wal, dir.path().join("moved-wal")).unwrap();
    std::fs::write(&wal, b"").unwrap();
    let e = write("b").expect_err("sync of a replaced WAL must fail");
    assert!(e.to_string().contains("not known to be on disk"), "{e}");
    let e = write("c").expect_err("writes stop after a failed sync");
    assert!(e.to_string().contains("writes stopped"), "{e}");
    assert!(db.writes_stopped().is_some_and(|why| why.contains("replaced")));
}

#[test]
fn the_wal_restarts_when_it_passes_its_limit_while_readers_keep_reading() {
    use diesel::RunQueryDsl;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let db = Arc::new(bdc_node::db::Db::open(&format!("sqlite://{}", path.display()), 4).unwrap());
    db.set_wal_limit(256 * 1024);
    db.write(|c| {
        diesel::sql_query("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .execute(c)
            .map_err(bdc_node::db::DbError::from)
    })
    .unwrap();
    // Readers always at work, as under load: without the writer's restarting checkpoint the WAL
    // is never started afresh and grows with everything written.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _: i64 =
                        db.read(|c| counters::current(c, "320102", "w").map_err(bdc_node::db::DbError::from)).unwrap();
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..500 {
                    db.write(|c| {
                        diesel::sql_query("INSERT INTO filler (body) VALUES (randomblob(4096))").execute(c)?;
                        counters::next(c, "320102", "w").map_err(bdc_node::db::DbError::from)
                    })
                    .unwrap_or_else(|e| panic!("writer {w}, write {i}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    // About 8 MB went through the WAL; it restarted on the way. Once the writer's last wait for
    // a reader is over (it backs off while readers outlast it), the next write starts it afresh
    // and SQLite cuts the file back to the limit.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    db.write(|c| counters::next(c, "320102", "w").map_err(bdc_node::db::DbError::from)).unwrap();
    let stats = db.writer_stats();
    assert!(stats.wal_restarts >= 2, "{stats:?}");
    let wal = std::fs::metadata(dir.path().join("w.db-wal")).unwrap().len();
    assert!(wal <= 256 * 1024 + 64 * 1024, "WAL is {wal} bytes after {stats:?}");
    // Nothing was lost on the way.
    assert_eq!(db.read(|c| counters::current(c, "320102", "w").map_err(bdc_node::db::DbError::from)).unwrap(), 2001);
    let rows: i64 = db
        .read(|c| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT count(*) FROM filler)"))
                .get_result(c)
                .map_err(bdc_node::db::DbError::from)
        })
        .unwrap();
    assert_eq!(rows, 2000);
}

#[test]
fn two_processes_writing_one_sqlite_file_wait_for_each_other_instead_of_failing() {
    use bdc_node::store::audit;
    // A running node and a `bdc-node keys …` command each open the file with their own writer.
    // Every write reads before it writes (the audit head): a deferred BEGIN failed at once with
    // "database is locked" when the other committed in between.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("two.db").display());
    let node = Arc::new(bdc_node::db::Db::open(&url, 4).unwrap());
    let cli = Arc::new(bdc_node::db::Db::open(&url, 1).unwrap());
    let writers: Vec<_> = [Arc::clone(&node), Arc::clone(&node), Arc::clone(&cli)]
        .into_iter()
        .enumerate()
        .map(|(w, db)| {
            std::thread::spawn(move || {
                for i in 0..150 {
                    let entry = audit::Entry::new("320102", &format!("writer-{w}"), audit::Kind::System, "test", "t");
                    db.write(|c| audit::append(c, &entry).map_err(bdc_node::db::DbError::from))
                        .unwrap_or_else(|e| panic!("writer {w}, write {i}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let key = SigningKey::generate().public_key();
    let report = node.read(|c| audit::verify(c, &key).map_err(bdc_node::db::DbError::from)).unwrap();
    assert_eq!(report.map(|r| r.records).ok(), Some(450));
}

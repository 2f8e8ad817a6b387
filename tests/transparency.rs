//! Transparency logs across real nodes (issue "Electronic certificates…", item 6): a county's log
//! is checked by its province with consistency proofs as it grows, and a county that rewrites a
//! logged certificate is caught and named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bdc_node::log_watch::check_children;
use common::*;
use schemas::api::LogCheckStatus;

/// Submit and issue a 首次登记 of `unit` at 玄武区; returns the certificate id.
async fn issue(fed: &Federation, unit: &str) -> String {
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(unit)).await;
    assert_eq!(status, 200, "{receipt}");
    let issued = fed.run_to_issued(receipt["business_no"].as_str().unwrap()).await;
    issued["certificate_id"].as_str().unwrap().to_owned()
}

async fn xuanwu_verdict(fed: &Federation) -> bdc_node::log_watch::Verdict {
    let verdicts = check_children(&fed.node(PROVINCE).state).await;
    verdicts.into_iter().find(|(p, _)| p.node_id.as_str() == "nj-xuanwu").expect("玄武区 is a child").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_province_proves_each_county_log_extends_the_last_and_catches_a_rewrite() {
    let fed = Federation::start().await;

    issue(&fed, XUANWU_UNIT).await;
    let first = xuanwu_verdict(&fed).await;
    assert_eq!(first.status, LogCheckStatus::Consistent, "{first:?}");

    // The log grows; the province accepts the new head only with a valid consistency proof.
    issue(&fed, XUANWU_UNIT_2).await;
    let second = xuanwu_verdict(&fed).await;
    assert_eq!(second.status, LogCheckStatus::Consistent, "{second:?}");
    let (status, children) = fed.get(PROVINCE, "/api/v1/transparency/children").await;
    assert_eq!(status, 200);
    let xuanwu = children.as_array().unwrap().iter().find(|c| c["node_id"] == "nj-xuanwu").unwrap().clone();
    assert_eq!(xuanwu["status"], "consistent");
    let (_, head) = fed.get(XUANWU, "/api/v1/transparency/head").await;
    let accepted = xuanwu["accepted"]["size"].as_u64().unwrap();
    assert!(accepted >= 2 && accepted <= head["size"].as_u64().unwrap(), "{xuanwu} vs {head}");

    // Anyone can ask a node for a proof between two of its sizes; nonsense sizes are refused.
    let size = head["size"].as_u64().unwrap();
    let (status, proof) = fed.get(XUANWU, &format!("/api/v1/transparency/consistency?from=1&to={size}")).await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["log_id"], "nj-xuanwu");
    assert!(!proof["proof"].as_array().unwrap().is_empty());
    for bad in ["from=2&to=1", "from=0&to=999999", "from=x&to=1", "to=1", "from=-1&to=1"] {
        let (status, body) = fed.get(XUANWU, &format!("/api/v1/transparency/consistency?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_field", "{bad}: {body}");
    }

    // The county rewrites its first logged certificate (as an operator with database access
    // could) and rebuilds its tree from the altered rows.
    {
        use diesel::RunQueryDsl;
        let county = fed.node(XUANWU);
        let mut conn = county.state.db.conn().unwrap();
        let forged: String = federation::merkle::leaf_hash(b"bdc-tlog-v1|certificate|forged")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        diesel::sql_query(format!("UPDATE tlog SET leaf_hash = '{forged}' WHERE idx = 0")).execute(&mut *conn).unwrap();
        *county.state.tlog.lock().unwrap() = federation::merkle::MemoryLog::new();
    }
    // The rewritten log alone, at the size the province accepted, has another root …
    let caught = xuanwu_verdict(&fed).await;
    assert_eq!(caught.status, LogCheckStatus::Inconsistent, "{caught:?}");
    // … and growing it does not help: no consistency proof joins the two histories.
    issue(&fed, "320102003001GB00012F00010205").await;
    let still = xuanwu_verdict(&fed).await;
    assert_eq!(still.status, LogCheckStatus::Inconsistent, "{still:?}");
    assert!(still.problem.as_deref().unwrap_or_default().contains("一致性证明不成立"), "{still:?}");

    let (_, children) = fed.get(PROVINCE, "/api/v1/transparency/children").await;
    let xuanwu = children.as_array().unwrap().iter().find(|c| c["node_id"] == "nj-xuanwu").unwrap().clone();
    assert_eq!(xuanwu["status"], "inconsistent", "{xuanwu}");
    // The province keeps the last good head, so the county cannot launder the rewrite later.
    assert_eq!(xuanwu["accepted"]["size"].as_u64().unwrap(), accepted);
    // 秦淮区, untouched, stays consistent.
    let qinhuai = children.as_array().unwrap().iter().find(|c| c["node_id"] == "nj-qinhuai").unwrap().clone();
    assert_eq!(qinhuai["status"], "consistent", "{qinhuai}");

    // The discovery is a security record in the province's audit log.
    let audited = {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = fed.node(PROVINCE).state.db.conn().unwrap();
        let rows: Vec<N> = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'transparency_inconsistent' AND actor = 'node:nj-xuanwu'",
        )
        .load(&mut *conn)
        .unwrap();
        rows[0].n
    };
    assert!(audited >= 1, "no audit record of the rewrite");
    fed.shutdown().await;
}

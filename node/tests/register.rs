//! The register at the storage level, on SQLite and (with `TEST_PG_URL`) PostgreSQL: each kind's
//! effect, the rules that stop a registration, lapses with a controllable clock, concurrent 登簿
//! and certificate numbering, and a property test over random sequences of registrations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bdc_node::db::{AnyConnection, Db};
use bdc_node::domain::parties::check_parties;
use bdc_node::personal::Sealer;
use bdc_node::settings::OfficeSettings;
use bdc_node::store;
use bdc_node::store::applications::{AppError, ApplicationRow, Decision, OfficeCtx};
use chrono::{DateTime, Duration, Utc};
use common::{backends, office};
use diesel::prelude::*;
use federation::crypto::{SigningKey, Sm4Key};
use schemas::api::{ActionRequest, ApplicantInput, CertificateStatus, SubmitApplication};
use schemas::error::ErrorCode;
use schemas::ids::{IdType, NodeId, UnitCode};
use schemas::register::{MortgageAction, RegistrationDetails, RestrictionKind, RuleConfig, RuleStage, Severity};
use schemas::registration::{Action, PartyRole, RegistrationKind, Stage};

const ZHANG: (&str, &str) = ("张三", "110101199003074477");
const LI: (&str, &str) = ("李四", "11010519491231002X");
const WANG: (&str, &str) = ("王五", "110101198001010010");
const BANK: (&str, &str) = ("南京银行股份有限公司", "91350100M000100Y43");

fn unit(n: u32) -> String {
    format!("320102003001GB00012F0001{n:04}")
}

struct Office {
    db: Db,
    key: SigningKey,
    sealer: Sealer,
    office: OfficeSettings,
    me: NodeId,
    parent: NodeId,
}

fn person(p: (&str, &str), role: PartyRole) -> ApplicantInput {
    let id_type = if p.1.len() == 18 && p.1.starts_with('9') { IdType::CreditCode } else { IdType::IdCard };
    ApplicantInput { name: p.0.into(), id_type, id_number: p.1.into(), phone: None, role, share: None }
}

fn share(mut a: ApplicantInput, s: &str) -> ApplicantInput {
    a.share = Some(s.into());
    a
}

impl Office {
    fn new(db: Db) -> Self {
        Self {
            db,
            key: SigningKey::generate(),
            sealer: Sealer::new(Sm4Key::generate()),
            office: office(),
            me: NodeId::parse("nj-xuanwu").unwrap(),
            parent: NodeId::parse("js-province").unwrap(),
        }
    }

    fn ctx(&self) -> OfficeCtx<'_> {
        OfficeCtx {
            me: &self.me,
            parent: Some(&self.parent),
            key: &self.key,
            sealer: &self.sealer,
            office: &self.office,
        }
    }

    fn submit(
        &self,
        unit: &str,
        kind: RegistrationKind,
        applicants: Vec<ApplicantInput>,
        details: RegistrationDetails,
    ) -> String {
        let parties = check_parties(&applicants).unwrap();
        let details = bdc_node::domain::register::check_details(kind, &details).unwrap();
        let request = SubmitApplication {
            unit_code: UnitCode::parse(unit).unwrap(),
            kind,
            applicants,
            division: None,
            location: Some("南京市玄武区北京东路41号".into()),
            details: Some(details),
        };
        self.db
            .write(|c| {
                store::applications::submit(c, &self.ctx(), &request, parties, vec![], &self.me, None, Utc::now())
            })
            .unwrap()
            .business_no
    }

    /// As the node does it: decided on a reading connection, applied by the writer (decided again
    /// there if the application or its unit changed in between).
    fn act_at(&self, no: &str, action: Action, at: DateTime<Utc>) -> Result<ApplicationRow, AppError> {
        let request = ActionRequest { action, reasons: vec![], missing: vec![] };
        let decision = self.decide(no, &request, at)?;
        self.db.write(|c| store::applications::act_decided(c, &self.ctx(), decision, &request, at).map(|a| a.row))
    }

    fn decide(&self, no: &str, request: &ActionRequest, at: DateTime<Utc>) -> Result<Decision, AppError> {
        let mut c = self.db.conn().unwrap();
        store::applications::decide(&mut c, &self.ctx(), no, request, at)
    }

    fn act(&self, no: &str, action: Action) -> Result<ApplicationRow, AppError> {
        self.act_at(no, action, Utc::now())
    }

    /// 受理 → 审核 → 登簿, then 缮证 → 发证 where the kind issues a document.
    fn run(&self, no: &str) -> Result<ApplicationRow, AppError> {
        let mut last = None;
        for a in [Action::Accept, Action::Review, Action::Record] {
            last = Some(self.act(no, a)?);
        }
        let row = last.unwrap();
        let details: RegistrationDetails = serde_json::from_str(&row.details).unwrap();
        let kind = RegistrationKind::parse(&row.kind).unwrap();
        if bdc_node::domain::register::issues_document(kind, &details) {
            self.act(no, Action::Certify)?;
            return self.act(no, Action::Issue);
        }
        Ok(row)
    }

    fn page(&self, unit: &str) -> bdc_node::domain::register::UnitPage {
        let mut c = self.db.conn().unwrap();
        store::register::load_page(&mut c, &self.sealer, unit).unwrap()
    }

    fn cert_status(&self, id: &str) -> CertificateStatus {
        let mut c = self.db.conn().unwrap();
        store::certificates::parse_status(&store::certificates::get(&mut c, &self.sealer, id).unwrap().unwrap().status)
    }

    fn holdings(&self, p: (&str, &str)) -> Vec<String> {
        let mut c = self.db.conn().unwrap();
        store::register::holdings(&mut c, &self.sealer, &self.office.division, IdType::IdCard, p.1).unwrap()
    }
}

fn refusal(r: Result<ApplicationRow, AppError>) -> (ErrorCode, String) {
    match r {
        Err(AppError::Refused { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn state_of(o: &Office, no: &str) -> Stage {
    let mut c = o.db.conn().unwrap();
    Stage::parse(&store::applications::get(&mut c, no).unwrap().unwrap().state).unwrap()
}

#[test]
fn each_kind_changes_the_register_as_the_law_says() {
    for (db, _dir) in backends() {
        let o = Office::new(db);
        let u = unit(1);

        // 首次登记: 张三 and 李四, 按份共有 1/3 and 2/3.
        let no = o.submit(
            &u,
            RegistrationKind::First,
            vec![share(person(ZHANG, PartyRole::RightHolder), "1/3"), share(person(LI, PartyRole::RightHolder), "2/3")],
            RegistrationDetails { area: Some("89.5".into()), purpose: Some("住宅".into()), ..Default::default() },
        );
        let first = o.run(&no).unwrap();
        let first_cert = first.certificate_id.clone().unwrap();
        let right = o.page(&u).right.unwrap();
        assert_eq!(right.holders.len(), 2);
        assert_eq!(right.area.as_deref(), Some("89.50"));
        assert_eq!(o.holdings(ZHANG), vec![u.clone()]);

        // A second 首次登记 of the same unit is stopped at review, and changes nothing.
        let dup = o.submit(&u, RegistrationKind::First, vec![person(WANG, PartyRole::RightHolder)], Default::default());
        o.act(&dup, Action::Accept).unwrap();
        let (code, message) = refusal(o.act(&dup, Action::Review));
        assert_eq!(code, ErrorCode::RuleBlocked);
        assert!(message.contains("first-needs-empty-page"), "{message}");
        assert_eq!(state_of(&o, &dup), Stage::Accepted);

        // 抵押权设立: the bank, with the holders as mortgagors.
        let mortgage = o.submit(
            &u,
            RegistrationKind::Mortgage,
            vec![
                person(BANK, PartyRole::RightHolder),
                person(ZHANG, PartyRole::Obligor),
                person(LI, PartyRole::Obligor),
            ],
            RegistrationDetails { amount: Some("1500000".into()), ..Default::default() },
        );
        let proof = o.run(&mortgage).unwrap().certificate_id.unwrap();
        let page = o.page(&u);
        let m = page.current(RestrictionKind::Mortgage).next().unwrap();
        assert_eq!(m.amount.as_deref(), Some("1500000.00"));
        assert_eq!(m.certificate_id.as_deref(), Some(proof.as_str()));

        // 查封, then a 轮候查封; a transfer is stopped while seized.
        let seal = |court: &str| {
            o.submit(
                &u,
                RegistrationKind::Seizure,
                vec![person(WANG, PartyRole::Applicant)],
                RegistrationDetails { authority: Some(court.into()), ..Default::default() },
            )
        };
        let s1 = seal("南京市玄武区人民法院");
        let recorded = o.run(&s1).unwrap();
        assert_eq!(Stage::parse(&recorded.state), Some(Stage::Recorded), "查封 is complete at 登簿");
        assert_eq!(refusal(o.act(&s1, Action::Certify)).0, ErrorCode::InvalidTransition);
        o.run(&seal("南京市中级人民法院")).unwrap();
        let seizures: Vec<i64> = o.page(&u).current(RestrictionKind::Seizure).map(|s| s.position).collect();
        assert_eq!(seizures, vec![0, 1]);
        let sale = o.submit(
            &u,
            RegistrationKind::Transfer,
            vec![
                person(WANG, PartyRole::RightHolder),
                person(ZHANG, PartyRole::Obligor),
                person(LI, PartyRole::Obligor),
            ],
            Default::default(),
        );
        o.act(&sale, Action::Accept).unwrap();
        let (code, message) = refusal(o.act(&sale, Action::Review));
        assert_eq!(code, ErrorCode::RuleBlocked);
        assert!(message.contains("已被查封"), "{message}");

        // 解封 twice: the waiting seizure takes effect, then the unit is free.
        let release = |court: &str| {
            o.submit(
                &u,
                RegistrationKind::ReleaseSeizure,
                vec![person(WANG, PartyRole::Applicant)],
                RegistrationDetails { authority: Some(court.into()), ..Default::default() },
            )
        };
        o.run(&release("南京市玄武区人民法院")).unwrap();
        let seizures: Vec<i64> = o.page(&u).current(RestrictionKind::Seizure).map(|s| s.position).collect();
        assert_eq!(seizures, vec![0], "the 轮候查封 moved up");
        o.run(&release("南京市中级人民法院")).unwrap();
        assert!(!o.page(&u).has(RestrictionKind::Seizure));

        // The held-up transfer now passes review; a stranger as obligor would not.
        let stranger = o.submit(
            &u,
            RegistrationKind::Transfer,
            vec![person(WANG, PartyRole::RightHolder), person(WANG, PartyRole::Obligor)],
            Default::default(),
        );
        o.act(&stranger, Action::Accept).unwrap();
        assert!(refusal(o.act(&stranger, Action::Review)).1.contains("transfer-needs-holder-consent"));
        let transferred = {
            o.act(&sale, Action::Review).unwrap();
            o.act(&sale, Action::Record).unwrap();
            o.act(&sale, Action::Certify).unwrap();
            o.act(&sale, Action::Issue).unwrap()
        };
        let new_cert = transferred.certificate_id.unwrap();
        assert_eq!(o.cert_status(&first_cert), CertificateStatus::Void, "the old holders' certificate");
        assert_eq!(o.cert_status(&new_cert), CertificateStatus::Valid);
        assert_eq!(o.holdings(ZHANG), Vec::<String>::new());
        assert_eq!(o.holdings(WANG), vec![u.clone()]);
        assert!(o.page(&u).has(RestrictionKind::Mortgage), "a mortgage follows the property (民法典 Art. 406)");

        // 抵押权变更 then 注销: the proof is voided.
        let change = o.submit(
            &u,
            RegistrationKind::Mortgage,
            vec![person(BANK, PartyRole::Applicant)],
            RegistrationDetails {
                mortgage_action: Some(MortgageAction::Change),
                amount: Some("900000".into()),
                ..Default::default()
            },
        );
        let changed_proof = o.run(&change).unwrap().certificate_id.unwrap();
        assert_eq!(o.cert_status(&proof), CertificateStatus::Void);
        assert_eq!(o.page(&u).current(RestrictionKind::Mortgage).next().unwrap().amount.as_deref(), Some("900000.00"));
        // 注销登记 is stopped while mortgaged.
        let cancel =
            o.submit(&u, RegistrationKind::Cancellation, vec![person(WANG, PartyRole::Applicant)], Default::default());
        o.act(&cancel, Action::Accept).unwrap();
        assert!(refusal(o.act(&cancel, Action::Review)).1.contains("cancel-after-mortgage-released"));
        let release_mortgage = o.submit(
            &u,
            RegistrationKind::Mortgage,
            vec![person(BANK, PartyRole::Applicant)],
            RegistrationDetails { mortgage_action: Some(MortgageAction::Cancel), ..Default::default() },
        );
        o.run(&release_mortgage).unwrap();
        assert_eq!(o.cert_status(&changed_proof), CertificateStatus::Void);
        assert!(!o.page(&u).has(RestrictionKind::Mortgage));

        // 变更登记 (area): the certificate is superseded by a new one.
        let area = o.submit(
            &u,
            RegistrationKind::Change,
            vec![person(WANG, PartyRole::Applicant)],
            RegistrationDetails { area: Some("90.12".into()), ..Default::default() },
        );
        let changed_cert = o.run(&area).unwrap().certificate_id.unwrap();
        assert_eq!(o.cert_status(&new_cert), CertificateStatus::Superseded);
        let right = o.page(&u).right.unwrap();
        assert_eq!((right.area.as_deref(), right.holders[0].id_number.as_str()), (Some("90.12"), WANG.1));

        // 注销登记 now passes: no current right, the certificate void, nothing to issue.
        o.act(&cancel, Action::Review).unwrap();
        o.act(&cancel, Action::Record).unwrap();
        assert!(o.page(&u).right.is_none());
        assert_eq!(o.cert_status(&changed_cert), CertificateStatus::Void);

        // History is kept: five rights recorded on the unit, none deleted.
        let mut c = o.db.conn().unwrap();
        let view = store::register::unit_view(&mut c, &o.sealer, &o.office.division, &UnitCode::parse(&u).unwrap())
            .unwrap()
            .unwrap();
        assert!(view.current.is_none());
        assert_eq!(view.history.len(), 3, "首次, 转移, 变更");
        assert!(view.history.iter().all(|r| r.ended_by.is_some()));
        assert!(!serde_json::to_string(&view).unwrap().contains(WANG.1), "id numbers are masked");
        assert_eq!(view.ended_restrictions.len(), 4, "two seizures, two mortgage entries");
    }
}

#[test]
fn objections_and_advance_notices_lapse_by_law() {
    for (db, _dir) in backends() {
        let o = Office::new(db);
        let u = unit(2);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        let t0 = Utc::now();
        let objection =
            o.submit(&u, RegistrationKind::Objection, vec![person(LI, PartyRole::RightHolder)], Default::default());
        for a in [Action::Accept, Action::Review, Action::Record, Action::Certify, Action::Issue] {
            o.act_at(&objection, a, t0).unwrap();
        }
        let proof = {
            let mut c = o.db.conn().unwrap();
            store::applications::get(&mut c, &objection).unwrap().unwrap().certificate_id.unwrap()
        };
        let notice = o.submit(
            &unit(3),
            RegistrationKind::AdvanceNotice,
            vec![person(WANG, PartyRole::RightHolder)],
            Default::default(),
        );
        for a in [Action::Accept, Action::Review, Action::Record] {
            o.act_at(&notice, a, t0).unwrap();
        }
        let lapse = |at: DateTime<Utc>| o.db.write(|c: &mut AnyConnection| store::register::lapse(c, at)).unwrap();
        assert!(lapse(t0 + Duration::days(14)).is_empty(), "day 14: the objection stands");
        let lapsed = lapse(t0 + Duration::days(15) + Duration::seconds(1));
        assert_eq!(lapsed.iter().map(|l| l.kind).collect::<Vec<_>>(), vec![RestrictionKind::Objection]);
        assert_eq!(o.cert_status(&proof), CertificateStatus::Void);
        assert!(!o.page(&u).has(RestrictionKind::Objection));
        assert!(lapse(t0 + Duration::days(89)).is_empty(), "day 89: the advance notice stands");
        let lapsed = lapse(t0 + Duration::days(91));
        assert_eq!(lapsed.iter().map(|l| l.kind).collect::<Vec<_>>(), vec![RestrictionKind::AdvanceNotice]);
        assert!(lapse(t0 + Duration::days(400)).is_empty(), "each lapses once");
    }
}

#[test]
fn an_advance_notice_holds_the_property_for_its_holder() {
    for (db, _dir) in backends() {
        let o = Office::new(db);
        let u = unit(4);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        o.run(&o.submit(
            &u,
            RegistrationKind::AdvanceNotice,
            vec![person(LI, PartyRole::RightHolder), person(ZHANG, PartyRole::Obligor)],
            RegistrationDetails { advance_kind: Some(2), ..Default::default() },
        ))
        .unwrap();
        let to_wang = o.submit(
            &u,
            RegistrationKind::Transfer,
            vec![person(WANG, PartyRole::RightHolder), person(ZHANG, PartyRole::Obligor)],
            Default::default(),
        );
        o.act(&to_wang, Action::Accept).unwrap();
        assert!(refusal(o.act(&to_wang, Action::Review)).1.contains("advance-notice-blocks-transfer"));
        let to_li = o.submit(
            &u,
            RegistrationKind::Transfer,
            vec![person(LI, PartyRole::RightHolder), person(ZHANG, PartyRole::Obligor)],
            Default::default(),
        );
        o.run(&to_li).unwrap();
        assert!(!o.page(&u).has(RestrictionKind::AdvanceNotice), "预告登记 became the registration itself");
        assert_eq!(o.holdings(LI), vec![u]);
    }
}

#[test]
fn an_office_changes_its_rules_without_a_rebuild() {
    for (db, _dir) in backends() {
        let o = Office::new(db);
        let u = unit(5);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        // The office adds its own rule: no 变更 while an objection stands... built from a named check.
        let own = RuleConfig {
            stage: RuleStage::Review,
            kinds: vec![RegistrationKind::Change],
            severity: Severity::Block,
            message: "本机构规定：存在异议登记时不办理变更登记".into(),
            check: "no_objection".into(),
            enabled: true,
            position: 1,
        };
        bdc_node::domain::rules::validate_config("xuanwu-no-change-under-objection", &own).unwrap();
        o.db.write(|c: &mut AnyConnection| {
            store::rules::put(c, "320102", "xuanwu-no-change-under-objection", &own, "staff:1")
                .map_err(bdc_node::db::DbError::from)
        })
        .unwrap();
        o.run(&o.submit(&u, RegistrationKind::Objection, vec![person(LI, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        let change = o.submit(
            &u,
            RegistrationKind::Change,
            vec![person(ZHANG, PartyRole::Applicant)],
            RegistrationDetails { purpose: Some("商业".into()), ..Default::default() },
        );
        o.act(&change, Action::Accept).unwrap();
        assert!(refusal(o.act(&change, Action::Review)).1.contains("本机构规定"));
        // Turned off, the same application passes, and the trace shows what ran.
        o.db.write(|c: &mut AnyConnection| {
            store::rules::put(
                c,
                "320102",
                "xuanwu-no-change-under-objection",
                &RuleConfig { enabled: false, ..own.clone() },
                "staff:1",
            )
            .map_err(bdc_node::db::DbError::from)
        })
        .unwrap();
        let row = o.act(&change, Action::Review).unwrap();
        let trace: Vec<schemas::register::RuleOutcome> = serde_json::from_str(&row.rule_trace).unwrap();
        assert!(trace.iter().any(|t| t.rule == "right-must-exist" && t.passed));
        assert!(!trace.iter().any(|t| t.rule == "xuanwu-no-change-under-objection"));
    }
}

#[test]
fn two_recordings_of_one_unit_never_both_apply() {
    for (db, _dir) in backends() {
        let o = Arc::new(Office::new(db));
        let u = unit(6);
        // Two 首次登记 both pass review while the page is empty; only one may be recorded.
        let a = o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default());
        let b = o.submit(&u, RegistrationKind::First, vec![person(LI, PartyRole::RightHolder)], Default::default());
        for no in [&a, &b] {
            o.act(no, Action::Accept).unwrap();
            o.act(no, Action::Review).unwrap();
        }
        let handles: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|no| {
                let o = Arc::clone(&o);
                std::thread::spawn(move || o.act(&no, Action::Record))
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        let (code, _) = refusal(results.into_iter().find(|r| r.is_err()).unwrap());
        assert_eq!(code, ErrorCode::RegisterConflict);
        let mut c = o.db.conn().unwrap();
        let current: i64 = bdc_node::db::schema::register_rights::table
            .filter(bdc_node::db::schema::register_rights::unit_code.eq(&u))
            .filter(bdc_node::db::schema::register_rights::status.eq("current"))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(current, 1);
    }
}

#[test]
fn a_decision_read_before_a_concurrent_change_is_made_again() {
    for (db, _dir) in backends() {
        let o = Office::new(db);
        let u = unit(7);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        let sale = o.submit(
            &u,
            RegistrationKind::Transfer,
            vec![person(ZHANG, PartyRole::Obligor), person(LI, PartyRole::RightHolder)],
            Default::default(),
        );
        o.act(&sale, Action::Accept).unwrap();
        o.act(&sale, Action::Review).unwrap();
        // 登簿 of the sale is decided while the unit is free …
        let record = ActionRequest { action: Action::Record, reasons: vec![], missing: vec![] };
        let decision = o.decide(&sale, &record, Utc::now()).unwrap();
        // … then a court's 查封 is recorded before the writer applies it.
        let court = o.submit(
            &u,
            RegistrationKind::Seizure,
            vec![person(WANG, PartyRole::Applicant)],
            RegistrationDetails { authority: Some("南京市玄武区人民法院".into()), ..Default::default() },
        );
        o.run(&court).unwrap();
        let late =
            o.db.write(|c| store::applications::act_decided(c, &o.ctx(), decision, &record, Utc::now()).map(|a| a.row));
        assert_eq!(refusal(late).0, ErrorCode::RuleBlocked, "the seizure stops the sale");
        assert_eq!(state_of(&o, &sale), Stage::Reviewed);
        let right = o.page(&u).right.unwrap();
        assert_eq!(right.holders[0].id_number, ZHANG.1, "张三 still holds the unit");

        // A decision on an application that moved on since (another clerk refused it) is made
        // again from its new stage.
        let other =
            o.submit(&unit(8), RegistrationKind::First, vec![person(LI, PartyRole::RightHolder)], Default::default());
        o.act(&other, Action::Accept).unwrap();
        let review = ActionRequest { action: Action::Review, reasons: vec![], missing: vec![] };
        let decision = o.decide(&other, &review, Utc::now()).unwrap();
        let refuse = ActionRequest { action: Action::Refuse, reasons: vec!["材料不实".into()], missing: vec![] };
        o.db.write(|c| store::applications::act(c, &o.ctx(), &other, &refuse, Utc::now())).unwrap();
        let late =
            o.db.write(|c| store::applications::act_decided(c, &o.ctx(), decision, &review, Utc::now()).map(|a| a.row));
        assert_eq!(refusal(late).0, ErrorCode::InvalidTransition);
        assert_eq!(state_of(&o, &other), Stage::Refused);

        // Unchanged, a decision applies as made.
        let third =
            o.submit(&unit(9), RegistrationKind::First, vec![person(WANG, PartyRole::RightHolder)], Default::default());
        o.act(&third, Action::Accept).unwrap();
        let decision = o.decide(&third, &review, Utc::now()).unwrap();
        let row =
            o.db.write(|c| store::applications::act_decided(c, &o.ctx(), decision, &review, Utc::now()).map(|a| a.row))
                .unwrap();
        assert_eq!(Stage::parse(&row.state), Some(Stage::Reviewed));
        assert_eq!(state_of(&o, &third), Stage::Reviewed);
        let mut c = o.db.conn().unwrap();
        let stored = store::applications::get(&mut c, &third).unwrap().unwrap();
        assert_eq!(
            (stored.version, stored.updated_at, stored.rule_trace),
            (row.version, row.updated_at, row.rule_trace)
        );
    }
}

#[test]
fn sixteen_parallel_issuers_leave_no_gap_and_no_duplicate() {
    for (db, _dir) in backends() {
        let o = Arc::new(Office::new(db));
        let per_thread = 4;
        let handles: Vec<_> = (0..16u32)
            .map(|t| {
                let o = Arc::clone(&o);
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let no = o.submit(
                                &unit(100 + t * 10 + i),
                                RegistrationKind::First,
                                vec![person(ZHANG, PartyRole::RightHolder)],
                                Default::default(),
                            );
                            o.run(&no).unwrap().certificate_id.unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let ids: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let mut c = o.db.conn().unwrap();
        let mut seqs: Vec<u32> = ids
            .iter()
            .map(|id| {
                let number = store::certificates::get(&mut c, &o.sealer, id).unwrap().unwrap().number;
                let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                digits[digits.len() - 7..].parse().unwrap()
            })
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=16 * per_thread).collect::<Vec<u32>>(), "{:?}", o.db.backend());
    }
}

mod property {
    //! Random sequences of registrations (legal or not) never leave the register inconsistent.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        First(u32, usize, bool),
        Transfer(u32, usize),
        Mortgage(u32),
        MortgageCancel(u32),
        Seize(u32),
        Release(u32),
        Cancel(u32),
        Change(u32),
        Objection(u32, usize),
    }

    const PEOPLE: [(&str, &str); 3] = [ZHANG, LI, WANG];

    fn op() -> impl Strategy<Value = Op> {
        let u = 0u32..3;
        prop_oneof![
            (u.clone(), 0usize..3, any::<bool>()).prop_map(|(u, p, shared)| Op::First(u, p, shared)),
            (u.clone(), 0usize..3).prop_map(|(u, p)| Op::Transfer(u, p)),
            u.clone().prop_map(Op::Mortgage),
            u.clone().prop_map(Op::MortgageCancel),
            u.clone().prop_map(Op::Seize),
            u.clone().prop_map(Op::Release),
            u.clone().prop_map(Op::Cancel),
            u.clone().prop_map(Op::Change),
            (u, 0usize..3).prop_map(|(u, p)| Op::Objection(u, p)),
        ]
    }

    /// Run one operation through every stage; whether it was recorded.
    fn apply(o: &Office, op: &Op) -> bool {
        let holder = |u: u32| o.page(&unit(900 + u)).right.map(|r| r.holders);
        let obligors = |u: u32| -> Vec<ApplicantInput> {
            holder(u)
                .unwrap_or_default()
                .iter()
                .map(|h| {
                    person(PEOPLE.iter().copied().find(|p| p.1 == h.id_number).unwrap_or(ZHANG), PartyRole::Obligor)
                })
                .collect()
        };
        let (u, kind, mut parties, details) = match op {
            Op::First(u, p, shared) => {
                let parties = if *shared {
                    vec![
                        share(person(PEOPLE[*p], PartyRole::RightHolder), "1/2"),
                        share(person(PEOPLE[(*p + 1) % 3], PartyRole::RightHolder), "1/2"),
                    ]
                } else {
                    vec![person(PEOPLE[*p], PartyRole::RightHolder)]
                };
                (*u, RegistrationKind::First, parties, RegistrationDetails::default())
            }
            Op::Transfer(u, p) => {
                (*u, RegistrationKind::Transfer, vec![person(PEOPLE[*p], PartyRole::RightHolder)], Default::default())
            }
            Op::Mortgage(u) => (
                *u,
                RegistrationKind::Mortgage,
                vec![person(BANK, PartyRole::RightHolder)],
                RegistrationDetails { amount: Some("100000".into()), ..Default::default() },
            ),
            Op::MortgageCancel(u) => (
                *u,
                RegistrationKind::Mortgage,
                vec![person(BANK, PartyRole::Applicant)],
                RegistrationDetails { mortgage_action: Some(MortgageAction::Cancel), ..Default::default() },
            ),
            Op::Seize(u) | Op::Release(u) => (
                *u,
                if matches!(op, Op::Seize(_)) { RegistrationKind::Seizure } else { RegistrationKind::ReleaseSeizure },
                vec![person(WANG, PartyRole::Applicant)],
                RegistrationDetails { authority: Some("玄武区人民法院".into()), ..Default::default() },
            ),
            Op::Cancel(u) => {
                (*u, RegistrationKind::Cancellation, vec![person(ZHANG, PartyRole::Applicant)], Default::default())
            }
            Op::Change(u) => (
                *u,
                RegistrationKind::Change,
                vec![person(ZHANG, PartyRole::Applicant)],
                RegistrationDetails { area: Some("77.7".into()), ..Default::default() },
            ),
            Op::Objection(u, p) => {
                (*u, RegistrationKind::Objection, vec![person(PEOPLE[*p], PartyRole::RightHolder)], Default::default())
            }
        };
        if matches!(op, Op::Transfer(..) | Op::Mortgage(_)) {
            parties.extend(obligors(u));
        }
        let no = o.submit(&unit(900 + u), kind, parties, details);
        // Refusals are expected (rules, an empty page); they must leave nothing behind.
        o.run(&no).is_ok()
    }

    fn check_invariants(o: &Office) -> Result<(), TestCaseError> {
        use bdc_node::db::schema::{certificates, register_rights};
        let mut c = o.db.conn().unwrap();
        let rights: Vec<(String, Option<String>, String)> = register_rights::table
            .filter(register_rights::status.eq("current"))
            .select((register_rights::unit_code, register_rights::certificate_id, register_rights::business_no))
            .load(&mut c)
            .unwrap();
        let mut units: Vec<&String> = rights.iter().map(|r| &r.0).collect();
        units.sort();
        let n = units.len();
        units.dedup();
        prop_assert_eq!(n, units.len(), "two current rights on one unit");
        for u in units {
            let page = store::register::load_page(&mut c, &o.sealer, u).unwrap();
            let holders = page.right.unwrap().holders;
            prop_assert!(
                bdc_node::domain::register::co_ownership(&holders).is_ok(),
                "shares do not make a whole: {holders:?}"
            );
        }
        // Every valid 不动产权证书 evidences a current right.
        let valid: Vec<(String, String)> = certificates::table
            .filter(certificates::status.eq("valid"))
            .filter(certificates::number.like("%不动产权第%"))
            .select((certificates::id, certificates::business_no))
            .load(&mut c)
            .unwrap();
        for (id, business) in valid {
            prop_assert!(
                rights.iter().any(|r| r.1.as_deref() == Some(id.as_str()) && r.2 == business),
                "certificate {id} is valid but its right is not current"
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn random_registrations_keep_the_register_consistent(ops in proptest::collection::vec(op(), 1..25)) {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(&format!("sqlite://{}", dir.path().join("p.db").display()), 4).unwrap();
            let o = Office::new(db);
            // Start from one registered unit, so later operations have something to act on.
            prop_assert!(apply(&o, &Op::First(0, 0, false)));
            for op in &ops {
                apply(&o, op);
                check_invariants(&o)?;
            }
        }
    }
}

#[test]
fn due_dates_count_working_days_by_the_loaded_arrangement() {
    for (db, _dir) in backends() {
        let mut o = Office::new(db);
        o.office.time_limits.insert(RegistrationKind::Mortgage, 5);
        // Accepted Tuesday 30 September 2025, before the National Day week (1–8 October off,
        // Saturday 11 October worked).
        let at = chrono::NaiveDate::from_ymd_opt(2025, 9, 30).unwrap().and_hms_opt(2, 0, 0).unwrap().and_utc();
        o.db.write(|c: &mut AnyConnection| {
            for d in 1..=8 {
                let day = chrono::NaiveDate::from_ymd_opt(2025, 10, d).unwrap();
                store::calendar::put(c, day, false, "国庆节、中秋节", "test")?;
            }
            store::calendar::put(c, chrono::NaiveDate::from_ymd_opt(2025, 10, 11).unwrap(), true, "调休上班", "test")
                .map_err(bdc_node::db::DbError::from)
        })
        .unwrap();
        let u = unit(7);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        let m = o.submit(
            &u,
            RegistrationKind::Mortgage,
            vec![person(BANK, PartyRole::RightHolder), person(ZHANG, PartyRole::Obligor)],
            RegistrationDetails { amount: Some("500000".into()), ..Default::default() },
        );
        let row = o.act_at(&m, Action::Accept, at).unwrap();
        assert_eq!(row.due_date, chrono::NaiveDate::from_ymd_opt(2025, 10, 14), "9, 10, 11 (Sat, worked), 13, 14");
        let t =
            o.submit(&unit(8), RegistrationKind::First, vec![person(LI, PartyRole::RightHolder)], Default::default());
        let row = o.act_at(&t, Action::Accept, at).unwrap();
        assert_eq!(row.due_date, chrono::NaiveDate::from_ymd_opt(2025, 11, 18), "the general 30 working days");
        // Both are open and overdue now; a 查封 recorded on the day is done, not open.
        let s = o.submit(
            &u,
            RegistrationKind::Seizure,
            vec![person(WANG, PartyRole::Applicant)],
            RegistrationDetails { authority: Some("玄武区人民法院".into()), ..Default::default() },
        );
        for a in [Action::Accept, Action::Review, Action::Record] {
            o.act_at(&s, a, at).unwrap();
        }
        let mut c = o.db.conn().unwrap();
        let open: Vec<String> =
            store::applications::open_with_due(&mut c, "320102").unwrap().into_iter().map(|r| r.business_no).collect();
        assert_eq!(open, vec![m, t]);
    }
}

#[test]
fn auto_approval_runs_the_same_rules_and_stops_where_one_blocks() {
    for (db, _dir) in backends() {
        let mut o = Office::new(db);
        o.office.auto_approve = vec![RegistrationKind::Mortgage, RegistrationKind::Cancellation];
        let u = unit(9);
        o.run(&o.submit(&u, RegistrationKind::First, vec![person(ZHANG, PartyRole::RightHolder)], Default::default()))
            .unwrap();
        let mortgage = |o: &Office| {
            o.submit(
                &u,
                RegistrationKind::Mortgage,
                vec![person(BANK, PartyRole::RightHolder), person(ZHANG, PartyRole::Obligor)],
                RegistrationDetails { amount: Some("300000".into()), ..Default::default() },
            )
        };
        let accept_and_auto = |o: &Office, no: &str| {
            o.act(no, Action::Accept).unwrap();
            o.db.write(|c: &mut AnyConnection| store::applications::auto_approve(c, &o.ctx(), no, Utc::now())).unwrap()
        };
        // A clean mortgage goes straight to 发证, with every rule in the trace.
        let m = mortgage(&o);
        assert_eq!(accept_and_auto(&o, &m), vec![Action::Review, Action::Record, Action::Certify, Action::Issue]);
        assert_eq!(state_of(&o, &m), Stage::Issued);
        let mut c = o.db.conn().unwrap();
        let row = store::applications::get(&mut c, &m).unwrap().unwrap();
        let trace: Vec<schemas::register::RuleOutcome> = serde_json::from_str(&row.rule_trace).unwrap();
        assert!(trace.iter().any(|t| t.rule == "seized-no-mortgage" && t.passed));
        assert!(trace.iter().any(|t| t.rule == "certificate-holder-is-register-holder" && t.passed));
        drop(c);
        // Seized: the rule stops it at review, for staff to decide.
        o.run(&o.submit(
            &u,
            RegistrationKind::Seizure,
            vec![person(WANG, PartyRole::Applicant)],
            RegistrationDetails { authority: Some("玄武区人民法院".into()), ..Default::default() },
        ))
        .unwrap();
        let blocked = mortgage(&o);
        assert_eq!(accept_and_auto(&o, &blocked), Vec::<Action>::new());
        assert_eq!(state_of(&o, &blocked), Stage::Accepted);
        // A kind not marked is left alone; a marked kind without a document ends at 登簿.
        let other =
            o.submit(&unit(10), RegistrationKind::First, vec![person(LI, PartyRole::RightHolder)], Default::default());
        assert_eq!(accept_and_auto(&o, &other), Vec::<Action>::new());
        o.run(&o.submit(
            &u,
            RegistrationKind::ReleaseSeizure,
            vec![person(WANG, PartyRole::Applicant)],
            RegistrationDetails { authority: Some("玄武区人民法院".into()), ..Default::default() },
        ))
        .unwrap();
        let release = o.submit(
            &u,
            RegistrationKind::Mortgage,
            vec![person(BANK, PartyRole::Applicant)],
            RegistrationDetails { mortgage_action: Some(MortgageAction::Cancel), ..Default::default() },
        );
        assert_eq!(accept_and_auto(&o, &release), vec![Action::Review, Action::Record]);
        assert_eq!(state_of(&o, &release), Stage::Recorded);
    }
}

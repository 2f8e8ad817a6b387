//! Review rules as data (规则审查). A rule is an id, the stage it runs at, the kinds it applies
//! to, a severity and a Chinese message, around one named check. The built-in set carries what
//! the law requires; an office may disable a rule, change its severity, order or message, and add
//! rules of its own from the same checks — all in the database, without a rebuild.
//!
//! Evaluation is a pure function of the rule list and the application's context; its result is
//! the rule trace kept with the application. An application of a kind the office marks for it is
//! approved automatically (秒批) when no blocking rule fails.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemas::register::{
    MortgageAction, RegistrationDetails, RestrictionKind, RuleConfig, RuleOutcome, RuleStage, Severity,
};
use schemas::registration::{PartyRole, RegistrationKind};

use super::register::{Holder, Request, UnitPage, co_ownership, same_people};

/// The checks a rule can run. Each answers "does the application pass?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// No effective or waiting 查封 on the unit.
    UnitNotSeized,
    /// The 义务人 on the application are exactly the current right holders.
    ObligorsAreHolders,
    /// The new holders' shares sum to one (or none are given).
    SharesSumToOne,
    /// The unit has a current right.
    RightExists,
    /// The unit has no current right (首次登记).
    NoCurrentRight,
    /// No current 预告登记 in favour of someone other than the new holders.
    NoAdvanceNoticeConflict,
    /// No current 异议登记.
    NoObjection,
    /// No current 抵押权.
    NotMortgaged,
    /// At least one 权利人 on the application.
    HasRightHolder,
    /// The entry the application recorded is current and holds the 权利人 it names (at 发证).
    CertificateHolderIsRegisterHolder,
    /// Every required item of the kind's materials checklist holds an uploaded file (at 受理).
    RequiredMaterialsUploaded,
}

impl Check {
    pub const ALL: &'static [Check] = &[
        Self::UnitNotSeized,
        Self::ObligorsAreHolders,
        Self::SharesSumToOne,
        Self::RightExists,
        Self::NoCurrentRight,
        Self::NoAdvanceNoticeConflict,
        Self::NoObjection,
        Self::NotMortgaged,
        Self::HasRightHolder,
        Self::CertificateHolderIsRegisterHolder,
        Self::RequiredMaterialsUploaded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnitNotSeized => "unit_not_seized",
            Self::ObligorsAreHolders => "obligors_are_holders",
            Self::SharesSumToOne => "shares_sum_to_one",
            Self::RightExists => "right_exists",
            Self::NoCurrentRight => "no_current_right",
            Self::NoAdvanceNoticeConflict => "no_advance_notice_conflict",
            Self::NoObjection => "no_objection",
            Self::NotMortgaged => "not_mortgaged",
            Self::HasRightHolder => "has_right_holder",
            Self::CertificateHolderIsRegisterHolder => "certificate_holder_is_register_holder",
            Self::RequiredMaterialsUploaded => "required_materials_uploaded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    fn passes(self, ctx: &Context<'_>) -> bool {
        let page = ctx.page;
        match self {
            Self::UnitNotSeized => !page.has(RestrictionKind::Seizure),
            Self::ObligorsAreHolders => match &page.right {
                Some(r) => same_people(&ctx.request.holders(PartyRole::Obligor), &r.holders),
                None => false,
            },
            Self::SharesSumToOne => {
                let holders = ctx.request.holders(PartyRole::RightHolder);
                holders.is_empty() || co_ownership(&holders).is_ok()
            }
            Self::RightExists => page.right.is_some(),
            Self::NoCurrentRight => page.right.is_none(),
            Self::NoAdvanceNoticeConflict => {
                let new: Vec<Holder> = ctx.request.holders(PartyRole::RightHolder);
                page.current(RestrictionKind::AdvanceNotice).all(|n| same_people(&n.holders, &new))
            }
            Self::NoObjection => !page.has(RestrictionKind::Objection),
            Self::NotMortgaged => !page.has(RestrictionKind::Mortgage),
            Self::HasRightHolder => ctx.request.parties.iter().any(|p| p.role == PartyRole::RightHolder),
            Self::CertificateHolderIsRegisterHolder => {
                // The entry this application recorded must still be current, and the holders it
                // names (when it names any) must be the ones the register shows.
                let recorded = match ctx.request.kind {
                    k if k.issues_property_certificate() => page
                        .right
                        .as_ref()
                        .filter(|r| Some(r.business_no.as_str()) == ctx.business_no)
                        .map(|r| r.holders.clone()),
                    _ => page
                        .restrictions
                        .iter()
                        .find(|r| Some(r.business_no.as_str()) == ctx.business_no)
                        .map(|r| r.holders.clone()),
                };
                let named = ctx.request.holders(PartyRole::RightHolder);
                recorded.is_some_and(|h| named.is_empty() || same_people(&h, &named))
            }
            Self::RequiredMaterialsUploaded => self.missing(ctx).is_empty(),
        }
    }

    /// What a failed check found missing, named for people (only the materials check says).
    fn missing(self, ctx: &Context<'_>) -> Vec<String> {
        match self {
            Self::RequiredMaterialsUploaded => {
                let checklist = super::materials::for_kind(ctx.request.kind);
                super::material_files::missing_required(&checklist, ctx.uploaded_materials)
                    .into_iter()
                    .map(|m| m.name.clone())
                    .collect()
            }
            _ => vec![],
        }
    }
}

/// One rule as an office runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub stage: RuleStage,
    /// Empty: every kind.
    pub kinds: Vec<RegistrationKind>,
    /// For 抵押权登记 rules: which actions (empty: every action).
    pub mortgage_actions: Vec<MortgageAction>,
    pub severity: Severity,
    pub message: String,
    pub check: Check,
    pub enabled: bool,
    pub position: i32,
    pub builtin: bool,
}

impl Rule {
    fn applies(&self, kind: RegistrationKind, details: &RegistrationDetails) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (kind != RegistrationKind::Mortgage
                || self.mortgage_actions.is_empty()
                || self.mortgage_actions.contains(&details.mortgage_action.unwrap_or_default()))
    }
}

fn rule(
    id: &str,
    stage: RuleStage,
    kinds: &[RegistrationKind],
    mortgage_actions: &[MortgageAction],
    check: Check,
    message: &str,
    position: i32,
) -> Rule {
    Rule {
        id: id.to_owned(),
        stage,
        kinds: kinds.to_vec(),
        mortgage_actions: mortgage_actions.to_vec(),
        severity: Severity::Block,
        message: message.to_owned(),
        check,
        enabled: true,
        position,
        builtin: true,
    }
}

/// The rules every office starts with (民法典, 条例 and 实施细则).
pub fn builtin() -> Vec<Rule> {
    use MortgageAction as M;
    use RegistrationKind as K;
    use RuleStage::{Accept, Issue, Record, Review};
    vec![
        rule(
            "required-materials-uploaded",
            Accept,
            &[],
            &[],
            Check::RequiredMaterialsUploaded,
            "网上申请尚未上传全部必需材料，请核对窗口提交的纸质材料或告知补正",
            5,
        ),
        rule(
            "seized-no-transfer",
            Review,
            &[K::Transfer],
            &[],
            Check::UnitNotSeized,
            "该不动产已被查封，不能办理转移登记",
            10,
        ),
        rule(
            "seized-no-mortgage",
            Review,
            &[K::Mortgage],
            &[M::Establish],
            Check::UnitNotSeized,
            "该不动产已被查封，不能办理抵押权设立登记",
            20,
        ),
        rule(
            "transfer-needs-holder-consent",
            Review,
            &[K::Transfer],
            &[],
            Check::ObligorsAreHolders,
            "转移登记的义务人须为登记簿记载的现权利人（条例第十四条，共同申请）",
            30,
        ),
        rule(
            "shares-sum-to-one",
            Review,
            &[K::First, K::Transfer, K::Change, K::Correction],
            &[],
            Check::SharesSumToOne,
            "按份共有的份额合计应为1",
            40,
        ),
        rule(
            "mortgage-needs-right",
            Review,
            &[K::Mortgage],
            &[M::Establish],
            Check::RightExists,
            "抵押权须设立在登记簿上已有的不动产权利之上",
            50,
        ),
        rule(
            "mortgagor-is-holder",
            Review,
            &[K::Mortgage],
            &[M::Establish],
            Check::ObligorsAreHolders,
            "抵押人（义务人）须为登记簿记载的现权利人",
            55,
        ),
        rule(
            "first-needs-empty-page",
            Review,
            &[K::First],
            &[],
            Check::NoCurrentRight,
            "该不动产单元已有现势权利，应办理转移或变更登记",
            60,
        ),
        rule(
            "right-must-exist",
            Review,
            &[K::Transfer, K::Change, K::Correction, K::Cancellation, K::Objection],
            &[],
            Check::RightExists,
            "登记簿上没有该不动产单元的现势权利",
            70,
        ),
        rule(
            "advance-notice-blocks-transfer",
            Review,
            &[K::Transfer],
            &[],
            Check::NoAdvanceNoticeConflict,
            "该不动产已办理预告登记，未经预告登记的权利人同意不得处分（民法典第二百二十一条）",
            80,
        ),
        rule(
            "cancel-after-mortgage-released",
            Review,
            &[K::Cancellation],
            &[],
            Check::NotMortgaged,
            "该不动产设有抵押权，须先办理抵押权注销登记",
            90,
        ),
        rule(
            "cancel-not-seized",
            Review,
            &[K::Cancellation],
            &[],
            Check::UnitNotSeized,
            "该不动产已被查封，不能办理注销登记",
            95,
        ),
        rule(
            "objection-warns-transfer",
            Review,
            &[K::Transfer, K::Mortgage],
            &[M::Establish],
            Check::NoObjection,
            "该不动产存在异议登记，受让人或抵押权人应知悉风险",
            100,
        ),
        rule(
            "seized-no-transfer-at-record",
            Record,
            &[K::Transfer],
            &[],
            Check::UnitNotSeized,
            "登簿前该不动产已被查封，不能登簿",
            110,
        ),
        rule(
            "seized-no-mortgage-at-record",
            Record,
            &[K::Mortgage],
            &[M::Establish],
            Check::UnitNotSeized,
            "登簿前该不动产已被查封，不能登簿",
            120,
        ),
        rule(
            "certificate-holder-is-register-holder",
            Issue,
            &[],
            &[],
            Check::CertificateHolderIsRegisterHolder,
            "证书（证明）记载的权利人须与登记簿现势记载一致",
            130,
        ),
    ]
    .into_iter()
    .map(|mut r| {
        // Warnings: an office whose applicants bring paper materials to the window still accepts.
        if r.id == "objection-warns-transfer" || r.id == "required-materials-uploaded" {
            r.severity = Severity::Warn;
        }
        r
    })
    .collect()
}

/// The office's rule list: the built-ins with the office's settings applied, plus its own rules,
/// in order. `settings` are the office's rows: id → configuration.
pub fn effective(settings: &BTreeMap<String, RuleConfig>) -> Result<Vec<Rule>, String> {
    let mut rules = builtin();
    for r in &mut rules {
        if let Some(c) = settings.get(&r.id) {
            r.enabled = c.enabled;
            r.severity = c.severity;
            r.position = c.position;
            r.message = c.message.clone();
        }
    }
    for (id, c) in settings {
        if rules.iter().any(|r| &r.id == id) {
            continue;
        }
        rules.push(custom(id, c)?);
    }
    rules.sort_by(|a, b| (a.position, &a.id).cmp(&(b.position, &b.id)));
    Ok(rules)
}

/// An office's own rule from its configuration.
pub fn custom(id: &str, c: &RuleConfig) -> Result<Rule, String> {
    let check = Check::parse(&c.check).ok_or_else(|| format!("未知的规则检查项「{}」", c.check))?;
    Ok(Rule {
        id: id.to_owned(),
        stage: c.stage,
        kinds: c.kinds.clone(),
        mortgage_actions: vec![],
        severity: c.severity,
        message: c.message.clone(),
        check,
        enabled: c.enabled,
        position: c.position,
        builtin: false,
    })
}

/// Check an office's setting for a rule before storing it. Built-in rules keep their stage,
/// kinds and check; an office's own rule needs a valid id and a known check.
pub fn validate_config(id: &str, c: &RuleConfig) -> Result<(), String> {
    let id_ok = (3..=64).contains(&id.len())
        && id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
    if !id_ok {
        return Err("规则标识应为3至64位小写字母、数字或连字符".into());
    }
    let m = c.message.trim();
    if m.is_empty() || m.chars().count() > 200 || m.chars().any(char::is_control) {
        return Err("规则提示语应为1至200字且不含控制字符".into());
    }
    if let Some(b) = builtin().into_iter().find(|r| r.id == id) {
        if b.stage != c.stage || b.check.as_str() != c.check || b.kinds != c.kinds {
            return Err("内置规则只能调整启用状态、严重程度、顺序和提示语".into());
        }
        return Ok(());
    }
    Check::parse(&c.check).map(|_| ()).ok_or_else(|| format!("未知的规则检查项「{}」", c.check))
}

/// What rules look at.
pub struct Context<'a> {
    pub request: &'a Request<'a>,
    pub page: &'a UnitPage,
    /// The application's business number (for checks about what it recorded).
    pub business_no: Option<&'a str>,
    /// Checklist items that hold at least one uploaded file.
    pub uploaded_materials: &'a [String],
}

/// The outcome of running a stage's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub outcomes: Vec<RuleOutcome>,
}

impl Evaluation {
    /// The failed blocking rules' messages, in order.
    pub fn blocking(&self) -> Vec<&RuleOutcome> {
        self.outcomes.iter().filter(|o| !o.passed && o.severity == Severity::Block).collect()
    }

    pub fn warnings(&self) -> Vec<&RuleOutcome> {
        self.outcomes.iter().filter(|o| !o.passed && o.severity == Severity::Warn).collect()
    }

    pub fn passed(&self) -> bool {
        self.blocking().is_empty()
    }
}

/// Run the enabled rules of `stage` that apply to the application, in order.
pub fn evaluate(rules: &[Rule], stage: RuleStage, ctx: &Context<'_>, at: DateTime<Utc>) -> Evaluation {
    let outcomes = rules
        .iter()
        .filter(|r| r.enabled && r.stage == stage && r.applies(ctx.request.kind, ctx.request.details))
        .map(|r| {
            let passed = r.check.passes(ctx);
            let missing = if passed { vec![] } else { r.check.missing(ctx) };
            RuleOutcome {
                rule: r.id.clone(),
                stage,
                severity: r.severity,
                passed,
                message: if missing.is_empty() {
                    r.message.clone()
                } else {
                    format!("{}（缺：{}）", r.message, missing.join("、"))
                },
                at,
            }
        })
        .collect();
    Evaluation { outcomes }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::parties::Party;
    use crate::domain::register::{CurrentRestriction, CurrentRight};
    use schemas::ids::IdType;

    const A: &str = "110101199003074477";
    const B: &str = "11010519491231002X";

    fn party(id: &str, role: PartyRole) -> Party {
        Party { name: "某".into(), id_type: IdType::IdCard, id_number: id.into(), phone: None, role, share: None }
    }

    fn page(holder: &str, restrictions: &[RestrictionKind]) -> UnitPage {
        UnitPage {
            right: Some(CurrentRight {
                id: 1,
                right_type: 4,
                holders: vec![Holder {
                    name: "某".into(),
                    id_type: IdType::IdCard,
                    id_number: holder.into(),
                    share: None,
                }],
                location: String::new(),
                area: None,
                purpose: None,
                nature: None,
                term: None,
                business_no: "b1".into(),
                certificate_id: None,
            }),
            restrictions: restrictions
                .iter()
                .enumerate()
                .map(|(i, k)| CurrentRestriction {
                    id: i as i64 + 10,
                    kind: *k,
                    position: 0,
                    holders: vec![Holder {
                        name: "某".into(),
                        id_type: IdType::IdCard,
                        id_number: B.into(),
                        share: None,
                    }],
                    amount: None,
                    maximum: false,
                    authority: None,
                    business_no: "b2".into(),
                    certificate_id: None,
                    expires_at: None,
                })
                .collect(),
        }
    }

    fn run(kind: RegistrationKind, parties: &[Party], page: &UnitPage) -> Evaluation {
        let d = RegistrationDetails::default();
        let request = Request { kind, details: &d, parties, location: "", at: Utc::now() };
        evaluate(
            &builtin(),
            RuleStage::Review,
            &Context { request: &request, page, business_no: None, uploaded_materials: &[] },
            Utc::now(),
        )
    }

    fn blocked_by(e: &Evaluation) -> Vec<String> {
        e.blocking().iter().map(|o| o.rule.clone()).collect()
    }

    #[test]
    fn a_clean_transfer_passes() {
        let parties = [party(A, PartyRole::RightHolder), party(B, PartyRole::Obligor)];
        let e = run(RegistrationKind::Transfer, &parties, &page(B, &[]));
        assert!(e.passed(), "{e:?}");
        assert!(e.outcomes.len() >= 4, "every transfer rule ran and is in the trace");
    }

    #[test]
    fn a_seized_unit_cannot_be_transferred_or_mortgaged() {
        let parties = [party(A, PartyRole::RightHolder), party(B, PartyRole::Obligor)];
        let seized = page(B, &[RestrictionKind::Seizure]);
        assert_eq!(blocked_by(&run(RegistrationKind::Transfer, &parties, &seized)), vec!["seized-no-transfer"]);
        assert!(blocked_by(&run(RegistrationKind::Mortgage, &parties, &seized)).contains(&"seized-no-mortgage".into()));
    }

    #[test]
    fn a_transfer_needs_the_current_holder_as_obligor() {
        let stranger = [party(A, PartyRole::RightHolder), party(A, PartyRole::Obligor)];
        assert_eq!(
            blocked_by(&run(RegistrationKind::Transfer, &stranger, &page(B, &[]))),
            vec!["transfer-needs-holder-consent"]
        );
    }

    #[test]
    fn an_advance_notice_blocks_a_transfer_to_someone_else() {
        // The notice is in favour of B; a transfer to A conflicts.
        let parties = [party(A, PartyRole::RightHolder), party(A, PartyRole::Obligor)];
        let p = page(A, &[RestrictionKind::AdvanceNotice]);
        assert_eq!(blocked_by(&run(RegistrationKind::Transfer, &parties, &p)), vec!["advance-notice-blocks-transfer"]);
        let to_b = [party(B, PartyRole::RightHolder), party(A, PartyRole::Obligor)];
        assert!(run(RegistrationKind::Transfer, &to_b, &p).passed());
    }

    #[test]
    fn objection_only_warns() {
        let parties = [party(A, PartyRole::RightHolder), party(B, PartyRole::Obligor)];
        let e = run(RegistrationKind::Transfer, &parties, &page(B, &[RestrictionKind::Objection]));
        assert!(e.passed());
        assert_eq!(e.warnings().len(), 1);
    }

    #[test]
    fn an_office_can_disable_reorder_and_add() {
        let mut settings = BTreeMap::new();
        let mut off = RuleConfig {
            stage: RuleStage::Review,
            kinds: vec![RegistrationKind::Transfer],
            severity: Severity::Block,
            message: "已停用".into(),
            check: "unit_not_seized".into(),
            enabled: false,
            position: 10,
        };
        settings.insert("seized-no-transfer".to_owned(), off.clone());
        off.enabled = true;
        off.position = 1;
        off.kinds = vec![RegistrationKind::Change];
        off.check = "not_mortgaged".into();
        off.message = "本所规定：抵押期间不办理变更".into();
        settings.insert("office-no-change-while-mortgaged".to_owned(), off);
        let rules = effective(&settings).unwrap();
        assert_eq!(rules[0].id, "office-no-change-while-mortgaged");
        assert!(!rules.iter().find(|r| r.id == "seized-no-transfer").unwrap().enabled);
        let d = RegistrationDetails::default();
        let parties = [party(B, PartyRole::Applicant)];
        let request =
            Request { kind: RegistrationKind::Change, details: &d, parties: &parties, location: "", at: Utc::now() };
        let p = page(B, &[RestrictionKind::Mortgage]);
        let e = evaluate(
            &rules,
            RuleStage::Review,
            &Context { request: &request, page: &p, business_no: None, uploaded_materials: &[] },
            Utc::now(),
        );
        assert_eq!(blocked_by(&e), vec!["office-no-change-while-mortgaged"]);
    }

    #[test]
    fn acceptance_warns_naming_the_missing_materials() {
        let d = RegistrationDetails::default();
        let parties = [party(A, PartyRole::RightHolder)];
        let request =
            Request { kind: RegistrationKind::First, details: &d, parties: &parties, location: "", at: Utc::now() };
        let p = UnitPage::default();
        let run = |uploaded: &[String]| {
            let ctx = Context { request: &request, page: &p, business_no: None, uploaded_materials: uploaded };
            evaluate(&builtin(), RuleStage::Accept, &ctx, Utc::now())
        };
        let e = run(&[]);
        assert!(e.passed(), "a warning, not a block");
        let w = e.warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message.contains("不动产登记申请书") && w[0].message.contains("申请人身份证明"),
            "{}",
            w[0].message
        );
        assert!(!w[0].message.contains("相关税费缴纳凭证"), "optional items are not missing");
        let all: Vec<String> = crate::domain::materials::for_kind(RegistrationKind::First)
            .into_iter()
            .filter(|m| m.required)
            .map(|m| m.id)
            .collect();
        let e = run(&all);
        assert!(e.warnings().is_empty() && e.outcomes.iter().all(|o| o.passed), "{e:?}");
    }

    #[test]
    fn config_validation() {
        let c = RuleConfig {
            stage: RuleStage::Record,
            kinds: vec![],
            severity: Severity::Warn,
            message: "x".into(),
            check: "unit_not_seized".into(),
            enabled: true,
            position: 1,
        };
        assert!(validate_config("seized-no-transfer", &c).is_err(), "a built-in keeps its stage and check");
        assert!(validate_config("Bad Id", &c).is_err());
        assert!(validate_config("my-rule", &RuleConfig { check: "nonsense".into(), ..c.clone() }).is_err());
        assert!(validate_config("my-rule", &c).is_ok());
    }
}

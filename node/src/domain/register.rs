//! The register (不动产登记簿, 条例 Art. 8) as plain data, and what each registration kind does to
//! a unit's page at 登簿 (条例 Art. 21: a registration takes effect when it is recorded).
//!
//! [`plan`] is a pure function: `store::register` loads the unit's current page, asks for the
//! plan, and writes it in the same transaction as the application's stage change. The plan
//! enforces what can never be true of a register — two current rights on one unit, shares that
//! do not sum to one, ending an entry that does not exist. Whether a registration *should* go
//! ahead (a seized unit, a transfer without the holder's consent) is for the office's rules
//! (`domain::rules`), which run before the plan and explain themselves.

use chrono::{DateTime, Duration, Utc};
use schemas::ids::IdType;
use schemas::register::{MortgageAction, RegistrationDetails, RestrictionKind};
use schemas::registration::{PartyRole, RegistrationKind};
use serde::{Deserialize, Serialize};

use super::codes::{Term, nature_name, right_type_name};
use super::parties::Party;
use super::share::{Share, ShareError, check_sum};

/// 民法典 Art. 220: an objection lapses when no suit is filed within fifteen days.
pub const OBJECTION_DAYS: i64 = 15;
/// 民法典 Art. 221: an advance notice lapses ninety days after registration becomes possible.
pub const ADVANCE_NOTICE_DAYS: i64 = 90;
/// QLLX 4: 国有建设用地使用权/房屋（构筑物）所有权.
pub const DEFAULT_RIGHT_TYPE: u16 = 4;

/// A holder as the register records it (权利人, 抵押权人, 异议人, 预告权利人). Stored sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    /// Reduced fraction ("1/2") for 按份共有; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
}

impl Holder {
    fn same_person(&self, other: &Holder) -> bool {
        self.id_type == other.id_type && self.id_number == other.id_number
    }
}

/// Whether two holder lists name the same people (order and shares aside).
pub fn same_people(a: &[Holder], b: &[Holder]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.same_person(y)))
}

/// The current right on a unit (现势).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRight {
    pub id: i64,
    pub right_type: u16,
    pub holders: Vec<Holder>,
    pub location: String,
    pub area: Option<String>,
    pub purpose: Option<String>,
    /// 权利性质 QLXZ code.
    pub nature: Option<u16>,
    /// 使用期限.
    pub term: Option<Term>,
    pub business_no: String,
    pub certificate_id: Option<String>,
}

/// A current restriction on a unit (抵押, 查封, 异议, 预告).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRestriction {
    pub id: i64,
    pub kind: RestrictionKind,
    pub position: i64,
    pub holders: Vec<Holder>,
    pub amount: Option<String>,
    pub maximum: bool,
    pub authority: Option<String>,
    pub business_no: String,
    pub certificate_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A unit's page as it stands: the current right and the current restrictions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPage {
    pub right: Option<CurrentRight>,
    pub restrictions: Vec<CurrentRestriction>,
}

impl UnitPage {
    pub fn current(&self, kind: RestrictionKind) -> impl Iterator<Item = &CurrentRestriction> {
        self.restrictions.iter().filter(move |r| r.kind == kind)
    }

    pub fn has(&self, kind: RestrictionKind) -> bool {
        self.current(kind).next().is_some()
    }
}

/// What an application asks of the register.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub kind: RegistrationKind,
    pub details: &'a RegistrationDetails,
    pub parties: &'a [Party],
    pub location: &'a str,
    pub at: DateTime<Utc>,
}

/// The 使用期限 an application states (checked at submission to be a valid range).
fn details_term(d: &RegistrationDetails) -> Option<Term> {
    d.term_from.zip(d.term_to).and_then(|(from, to)| Term::new(from, to))
}

impl Request<'_> {
    pub fn mortgage_action(&self) -> MortgageAction {
        self.details.mortgage_action.unwrap_or_default()
    }

    /// The parties in a role, as the register would record them.
    pub fn holders(&self, role: PartyRole) -> Vec<Holder> {
        self.parties
            .iter()
            .filter(|p| p.role == role)
            .map(|p| Holder {
                name: p.name.clone(),
                id_type: p.id_type,
                id_number: p.id_number.clone(),
                share: p.share.as_deref().and_then(|s| Share::parse(s).ok()).map(|s| s.to_string()),
            })
            .collect()
    }

    /// Whether 发证 hands out a document for this registration. 注销, 查封, 解封 and 抵押权注销
    /// are complete at 登簿; the others get a 不动产权证书 or a 不动产登记证明.
    pub fn issues_document(&self) -> bool {
        issues_document(self.kind, self.details)
    }
}

pub fn issues_document(kind: RegistrationKind, details: &RegistrationDetails) -> bool {
    match kind {
        RegistrationKind::Cancellation | RegistrationKind::Seizure | RegistrationKind::ReleaseSeizure => false,
        RegistrationKind::Mortgage => details.mortgage_action.unwrap_or_default() != MortgageAction::Cancel,
        _ => true,
    }
}

/// A right to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRight {
    pub right_type: u16,
    pub holders: Vec<Holder>,
    pub co_ownership: &'static str,
    pub location: String,
    pub area: Option<String>,
    pub purpose: Option<String>,
    pub nature: Option<u16>,
    pub term: Option<Term>,
}

/// A restriction to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRestriction {
    pub kind: RestrictionKind,
    pub position: i64,
    pub holders: Vec<Holder>,
    pub amount: Option<String>,
    pub maximum: bool,
    pub authority: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a certificate becomes when the entry it evidences leaves the current register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// 变更: replaced by the new certificate.
    Superseded,
    /// 转移 / 注销 / 更正: no longer evidences any right (or never did as written).
    Void,
}

/// The change 登簿 makes to one unit's page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The current right that becomes history.
    pub end_right: Option<i64>,
    pub new_right: Option<NewRight>,
    /// Current restrictions that become history.
    pub end_restrictions: Vec<i64>,
    pub new_restriction: Option<NewRestriction>,
    /// 轮候查封 moving up the queue: (restriction id, new position).
    pub moves: Vec<(i64, i64)>,
    /// Certificates that stop being valid, with what they become and why.
    pub retire: Vec<(String, Retire, String)>,
}

/// Why the register cannot take a registration as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("该不动产单元已有现势权利，不能办理首次登记")]
    AlreadyRegistered,
    #[error("该不动产单元在登记簿上没有现势权利，不能办理{0}")]
    NoCurrentRight(&'static str),
    #[error("登记簿上没有可供{0}的现势{1}记载")]
    NoSuchRestriction(&'static str, &'static str),
    #[error("{0}须有权利人")]
    NoHolder(&'static str),
    #[error("{0}")]
    Share(#[from] ShareError),
    #[error("{0}")]
    Detail(String),
}

fn detail(msg: impl Into<String>) -> RegisterError {
    RegisterError::Detail(msg.into())
}

/// 共有方式 from the holders, checking their shares: one holder holds all; several either all
/// carry shares summing to one (按份共有) or none do (共同共有).
pub fn co_ownership(holders: &[Holder]) -> Result<&'static str, RegisterError> {
    let shares: Vec<Share> =
        holders.iter().filter_map(|h| h.share.as_deref()).filter_map(|s| Share::parse(s).ok()).collect();
    match holders.len() {
        0 => Err(RegisterError::NoHolder("登记")),
        1 => match shares.first() {
            Some(s) if !s.is_whole() => Err(ShareError::Sum(s.to_string()).into()),
            _ => Ok("单独所有"),
        },
        _ if shares.is_empty() => Ok("共同共有"),
        n if shares.len() == n => {
            check_sum(&shares)?;
            Ok("按份共有")
        }
        _ => Err(detail("按份共有的，每名权利人都须写明份额；共同共有的，均不写份额")),
    }
}

/// A money amount in yuan: a positive decimal with at most two places, normalised.
pub fn parse_amount(text: &str) -> Result<String, RegisterError> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let ok = !int.is_empty()
        && int.len() <= 15
        && frac.len() <= 2
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit());
    if !ok || int.chars().chain(frac.chars()).all(|c| c == '0') {
        return Err(detail(format!("金额「{t}」应为大于0、最多两位小数的元数")));
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Ok(format!("{int}.{frac:0<2}"))
}

/// An area in square metres: a positive decimal with at most two places.
pub fn parse_area(text: &str) -> Result<String, RegisterError> {
    parse_amount(text).map_err(|_| detail(format!("面积「{}」应为大于0、最多两位小数的平方米数", text.trim())))
}

/// Check the details a kind needs, at the edge (submission), so a bad application is refused
/// before anyone works on it. Returns the details normalised.
pub fn check_details(kind: RegistrationKind, d: &RegistrationDetails) -> Result<RegistrationDetails, RegisterError> {
    let mut d = d.clone();
    if let Some(t) = d.right_type
        && right_type_name(t).is_none()
    {
        return Err(detail(format!("权利类型代码 {t} 不在《不动产登记数据库标准》字典中")));
    }
    if let Some(n) = d.nature
        && nature_name(n).is_none()
    {
        return Err(detail(format!("权利性质代码 {n} 不在《不动产登记数据库标准》字典中")));
    }
    match (d.term_from, d.term_to) {
        (None, None) => {}
        (Some(from), Some(to)) if Term::new(from, to).is_some() => {}
        (Some(_), Some(_)) => return Err(detail("使用期限的终止日期应晚于起始日期")),
        _ => return Err(detail("使用期限须同时填写起始日期和终止日期")),
    }
    d.area = d.area.as_deref().map(parse_area).transpose()?;
    d.amount = d.amount.as_deref().map(parse_amount).transpose()?;
    for (field, value) in [("用途", &mut d.purpose), ("查封机关/嘱托机关", &mut d.authority)] {
        if let Some(v) = value {
            let t = v.trim();
            if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
                return Err(detail(format!("{field}应为1至100字且不含控制字符")));
            }
            *v = t.to_owned();
        }
    }
    if let Some(k) = d.advance_kind
        && !(1..=4).contains(&k)
    {
        return Err(detail("预告登记种类应为1至4（YGDJZL）"));
    }
    if d.mortgage_action.is_some() && kind != RegistrationKind::Mortgage {
        return Err(detail("只有抵押权登记可以填写抵押登记类别"));
    }
    match kind {
        RegistrationKind::Mortgage => {
            let action = d.mortgage_action.unwrap_or_default();
            if matches!(action, MortgageAction::Establish | MortgageAction::Change) && d.amount.is_none() {
                return Err(detail(if d.maximum {
                    "最高额抵押须填写最高债权数额"
                } else {
                    "抵押权登记须填写被担保主债权数额"
                }));
            }
        }
        RegistrationKind::Seizure | RegistrationKind::ReleaseSeizure if d.authority.is_none() => {
            return Err(detail("查封、解封须写明嘱托的人民法院或机关"));
        }
        _ => {}
    }
    Ok(d)
}

/// The parties each kind must have, checked at submission (条例 Art. 14: who applies).
pub fn check_parties_for_kind(
    kind: RegistrationKind,
    details: &RegistrationDetails,
    parties: &[Party],
) -> Result<(), RegisterError> {
    let has = |role: PartyRole| parties.iter().any(|p| p.role == role);
    let needs_holder = match kind {
        RegistrationKind::First
        | RegistrationKind::Transfer
        | RegistrationKind::Objection
        | RegistrationKind::AdvanceNotice => true,
        RegistrationKind::Mortgage => {
            matches!(details.mortgage_action.unwrap_or_default(), MortgageAction::Establish | MortgageAction::Transfer)
        }
        _ => false,
    };
    if needs_holder && !has(PartyRole::RightHolder) {
        return Err(RegisterError::NoHolder(kind.label_zh()));
    }
    let role_holders: Vec<Holder> = parties
        .iter()
        .filter(|p| p.role == PartyRole::RightHolder)
        .map(|p| Holder {
            name: p.name.clone(),
            id_type: p.id_type,
            id_number: p.id_number.clone(),
            share: p.share.clone(),
        })
        .collect();
    if matches!(kind, RegistrationKind::First | RegistrationKind::Transfer)
        || (kind == RegistrationKind::Correction && !role_holders.is_empty())
    {
        co_ownership(&role_holders)?;
    }
    Ok(())
}

/// The change 登簿 makes to `page` for `req`.
pub fn plan(page: &UnitPage, req: &Request<'_>) -> Result<Plan, RegisterError> {
    use RegistrationKind as K;
    let d = req.details;
    let mut plan = Plan::default();
    let current = || page.right.as_ref().ok_or(RegisterError::NoCurrentRight(req.kind.label_zh()));
    let new_holders = || -> Result<(Vec<Holder>, &'static str), RegisterError> {
        let holders = req.holders(PartyRole::RightHolder);
        let how = co_ownership(&holders)?;
        Ok((holders, how))
    };
    let location = |cur: Option<&CurrentRight>| {
        let given = req.location.trim();
        if given.is_empty() { cur.map(|c| c.location.clone()).unwrap_or_default() } else { given.to_owned() }
    };
    match req.kind {
        K::First => {
            if page.right.is_some() {
                return Err(RegisterError::AlreadyRegistered);
            }
            let (holders, how) = new_holders()?;
            plan.new_right = Some(NewRight {
                right_type: d.right_type.unwrap_or(DEFAULT_RIGHT_TYPE),
                holders,
                co_ownership: how,
                location: location(None),
                area: d.area.clone(),
                purpose: d.purpose.clone(),
                nature: d.nature,
                term: details_term(d),
            });
        }
        K::Transfer | K::Change | K::Correction => {
            let cur = current()?;
            let (holders, how) = match req.kind {
                K::Transfer => new_holders()?,
                // 变更 / 更正 keep the holders unless the application names new ones (a change of
                // name, a corrected holder).
                _ if req.parties.iter().any(|p| p.role == PartyRole::RightHolder) => new_holders()?,
                _ => (cur.holders.clone(), co_ownership(&cur.holders)?),
            };
            plan.end_right = Some(cur.id);
            plan.new_right = Some(NewRight {
                right_type: d.right_type.unwrap_or(cur.right_type),
                holders: holders.clone(),
                co_ownership: how,
                location: location(Some(cur)),
                area: d.area.clone().or_else(|| cur.area.clone()),
                purpose: d.purpose.clone().or_else(|| cur.purpose.clone()),
                nature: d.nature.or(cur.nature),
                term: details_term(d).or(cur.term),
            });
            let (retire, why) = match req.kind {
                K::Transfer => (Retire::Void, "转移登记"),
                K::Change => (Retire::Superseded, "变更登记"),
                // An 更正 says the old certificate was wrong: it is void, not merely replaced.
                _ => (Retire::Void, "更正登记"),
            };
            if let Some(c) = &cur.certificate_id {
                plan.retire.push((c.clone(), retire, why.to_owned()));
            }
            // 预告登记转本登记: the transfer to the advance notice's holder fulfils it.
            if req.kind == K::Transfer {
                for notice in page.current(RestrictionKind::AdvanceNotice) {
                    if same_people(&notice.holders, &holders) {
                        plan.end_restrictions.push(notice.id);
                        if let Some(c) = &notice.certificate_id {
                            plan.retire.push((c.clone(), Retire::Void, "预告登记已转为本登记".into()));
                        }
                    }
                }
            }
        }
        K::Cancellation => {
            let cur = current()?;
            plan.end_right = Some(cur.id);
            if let Some(c) = &cur.certificate_id {
                plan.retire.push((c.clone(), Retire::Void, "注销登记".into()));
            }
        }
        K::Mortgage => {
            let action = req.mortgage_action();
            if action == MortgageAction::Establish {
                current()?;
                plan.new_restriction = Some(NewRestriction {
                    kind: RestrictionKind::Mortgage,
                    position: 0,
                    holders: req.holders(PartyRole::RightHolder),
                    amount: Some(d.amount.clone().ok_or_else(|| detail("抵押权登记须填写债权数额"))?),
                    maximum: d.maximum,
                    authority: None,
                    expires_at: None,
                });
            } else {
                let label = action.label_zh();
                let old = pick(page, RestrictionKind::Mortgage, d.restriction_id)
                    .ok_or(RegisterError::NoSuchRestriction(label, "抵押权"))?;
                plan.end_restrictions.push(old.id);
                if let Some(c) = &old.certificate_id {
                    plan.retire.push((c.clone(), Retire::Void, label.to_owned()));
                }
                if action != MortgageAction::Cancel {
                    let holders = match action {
                        MortgageAction::Transfer => req.holders(PartyRole::RightHolder),
                        _ => old.holders.clone(),
                    };
                    if holders.is_empty() {
                        return Err(RegisterError::NoHolder(label));
                    }
                    plan.new_restriction = Some(NewRestriction {
                        kind: RestrictionKind::Mortgage,
                        position: 0,
                        holders,
                        amount: d.amount.clone().or_else(|| old.amount.clone()),
                        maximum: if action == MortgageAction::Change { d.maximum } else { old.maximum },
                        authority: None,
                        expires_at: None,
                    });
                }
            }
        }
        K::Seizure => {
            // The first seizure takes effect; later ones wait their turn (轮候查封).
            let position = page.current(RestrictionKind::Seizure).map(|s| s.position + 1).max().unwrap_or(0);
            plan.new_restriction = Some(NewRestriction {
                kind: RestrictionKind::Seizure,
                position,
                holders: vec![],
                amount: None,
                maximum: false,
                authority: d.authority.clone(),
                expires_at: None,
            });
        }
        K::ReleaseSeizure => {
            let released = match d.restriction_id {
                Some(_) => pick(page, RestrictionKind::Seizure, d.restriction_id),
                None => page.current(RestrictionKind::Seizure).min_by_key(|s| s.position),
            }
            .ok_or(RegisterError::NoSuchRestriction("解封", "查封"))?;
            plan.end_restrictions.push(released.id);
            let mut waiting: Vec<&CurrentRestriction> =
                page.current(RestrictionKind::Seizure).filter(|s| s.id != released.id).collect();
            waiting.sort_by_key(|s| s.position);
            for (i, s) in waiting.iter().enumerate() {
                if s.position != i as i64 {
                    plan.moves.push((s.id, i as i64));
                }
            }
        }
        K::Objection | K::AdvanceNotice => {
            let (kind, days) = if req.kind == K::Objection {
                current()?;
                (RestrictionKind::Objection, OBJECTION_DAYS)
            } else {
                (RestrictionKind::AdvanceNotice, ADVANCE_NOTICE_DAYS)
            };
            let holders = req.holders(PartyRole::RightHolder);
            if holders.is_empty() {
                return Err(RegisterError::NoHolder(req.kind.label_zh()));
            }
            plan.new_restriction = Some(NewRestriction {
                kind,
                position: 0,
                holders,
                amount: d.amount.clone(),
                maximum: false,
                authority: None,
                expires_at: Some(req.at + Duration::days(days)),
            });
        }
    }
    Ok(plan)
}

/// The restriction named by id, or the earliest current one of the kind.
fn pick(page: &UnitPage, kind: RestrictionKind, id: Option<i64>) -> Option<&CurrentRestriction> {
    match id {
        Some(id) => page.current(kind).find(|r| r.id == id),
        None => page.current(kind).min_by_key(|r| (r.position, r.id)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn party(name: &str, id: &str, role: PartyRole, share: Option<&str>) -> Party {
        Party {
            name: name.into(),
            id_type: IdType::IdCard,
            id_number: id.into(),
            phone: None,
            role,
            share: share.map(str::to_owned),
        }
    }

    const A: &str = "110101199003074477";
    const B: &str = "11010519491231002X";

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
    }

    fn right(holder: &str) -> CurrentRight {
        CurrentRight {
            id: 7,
            right_type: 4,
            holders: vec![Holder {
                name: "李四".into(),
                id_type: IdType::IdCard,
                id_number: holder.into(),
                share: None,
            }],
            location: "北京东路41号".into(),
            area: Some("89.50".into()),
            purpose: Some("住宅".into()),
            nature: None,
            term: None,
            business_no: "32010220260301000001".into(),
            certificate_id: Some("cert-1".into()),
        }
    }

    fn req<'a>(kind: RegistrationKind, d: &'a RegistrationDetails, parties: &'a [Party]) -> Request<'a> {
        Request { kind, details: d, parties, location: "", at: at() }
    }

    #[test]
    fn first_registration_needs_an_empty_page() {
        let d = RegistrationDetails::default();
        let parties = [party("张三", A, PartyRole::RightHolder, None)];
        let p = plan(&UnitPage::default(), &req(RegistrationKind::First, &d, &parties)).unwrap();
        assert_eq!(p.new_right.unwrap().co_ownership, "单独所有");
        let page = UnitPage { right: Some(right(B)), restrictions: vec![] };
        assert_eq!(plan(&page, &req(RegistrationKind::First, &d, &parties)), Err(RegisterError::AlreadyRegistered));
    }

    #[test]
    fn transfer_ends_the_old_right_and_voids_its_certificate() {
        let d = RegistrationDetails::default();
        let parties = [party("张三", A, PartyRole::RightHolder, None), party("李四", B, PartyRole::Obligor, None)];
        let page = UnitPage { right: Some(right(B)), restrictions: vec![] };
        let p = plan(&page, &req(RegistrationKind::Transfer, &d, &parties)).unwrap();
        assert_eq!(p.end_right, Some(7));
        let new = p.new_right.unwrap();
        assert_eq!(new.holders[0].id_number, A);
        assert_eq!(new.area.as_deref(), Some("89.50"), "natural status carries over");
        assert_eq!(p.retire, vec![("cert-1".into(), Retire::Void, "转移登记".into())]);
        assert!(matches!(
            plan(&UnitPage::default(), &req(RegistrationKind::Transfer, &d, &parties)),
            Err(RegisterError::NoCurrentRight(_))
        ));
    }

    #[test]
    fn shares_must_make_a_whole() {
        let d = RegistrationDetails::default();
        let ok =
            [party("甲", A, PartyRole::RightHolder, Some("1/3")), party("乙", B, PartyRole::RightHolder, Some("2/3"))];
        let p = plan(&UnitPage::default(), &req(RegistrationKind::First, &d, &ok)).unwrap();
        assert_eq!(p.new_right.unwrap().co_ownership, "按份共有");
        let bad =
            [party("甲", A, PartyRole::RightHolder, Some("0.5")), party("乙", B, PartyRole::RightHolder, Some("0.6"))];
        assert!(matches!(
            plan(&UnitPage::default(), &req(RegistrationKind::First, &d, &bad)),
            Err(RegisterError::Share(_))
        ));
        let mixed = [party("甲", A, PartyRole::RightHolder, Some("0.5")), party("乙", B, PartyRole::RightHolder, None)];
        assert!(plan(&UnitPage::default(), &req(RegistrationKind::First, &d, &mixed)).is_err());
        let joint = [party("甲", A, PartyRole::RightHolder, None), party("乙", B, PartyRole::RightHolder, None)];
        let p = plan(&UnitPage::default(), &req(RegistrationKind::First, &d, &joint)).unwrap();
        assert_eq!(p.new_right.unwrap().co_ownership, "共同共有");
    }

    fn seizure(id: i64, position: i64) -> CurrentRestriction {
        CurrentRestriction {
            id,
            kind: RestrictionKind::Seizure,
            position,
            holders: vec![],
            amount: None,
            maximum: false,
            authority: Some("玄武区人民法院".into()),
            business_no: format!("b{id}"),
            certificate_id: None,
            expires_at: None,
        }
    }

    #[test]
    fn seizures_queue_and_move_up_when_released() {
        let d = RegistrationDetails { authority: Some("南京市中级人民法院".into()), ..Default::default() };
        let page = UnitPage { right: Some(right(B)), restrictions: vec![seizure(1, 0), seizure(2, 1)] };
        let p = plan(&page, &req(RegistrationKind::Seizure, &d, &[])).unwrap();
        assert_eq!(p.new_restriction.unwrap().position, 2, "轮候查封 waits behind two");
        let p = plan(&page, &req(RegistrationKind::ReleaseSeizure, &d, &[])).unwrap();
        assert_eq!(p.end_restrictions, vec![1]);
        assert_eq!(p.moves, vec![(2, 0)], "the waiting seizure takes effect");
        let empty = UnitPage { right: Some(right(B)), restrictions: vec![] };
        assert!(matches!(
            plan(&empty, &req(RegistrationKind::ReleaseSeizure, &d, &[])),
            Err(RegisterError::NoSuchRestriction(..))
        ));
    }

    #[test]
    fn mortgage_lifecycle() {
        let bank = [party("南京银行", A, PartyRole::RightHolder, None)];
        let d = RegistrationDetails { amount: Some("1000000".into()), ..Default::default() };
        let page = UnitPage { right: Some(right(B)), restrictions: vec![] };
        let p = plan(&page, &req(RegistrationKind::Mortgage, &d, &bank)).unwrap();
        let m = p.new_restriction.unwrap();
        assert_eq!((m.kind, m.amount.as_deref()), (RestrictionKind::Mortgage, Some("1000000")));
        assert!(matches!(
            plan(&UnitPage::default(), &req(RegistrationKind::Mortgage, &d, &bank)),
            Err(RegisterError::NoCurrentRight(_))
        ));
        let existing = CurrentRestriction {
            id: 5,
            kind: RestrictionKind::Mortgage,
            position: 0,
            holders: req(RegistrationKind::Mortgage, &d, &bank).holders(PartyRole::RightHolder),
            amount: Some("1000000.00".into()),
            maximum: false,
            authority: None,
            business_no: "b5".into(),
            certificate_id: Some("proof-5".into()),
            expires_at: None,
        };
        let page = UnitPage { right: Some(right(B)), restrictions: vec![existing] };
        let change = RegistrationDetails {
            mortgage_action: Some(MortgageAction::Change),
            amount: Some("800000.00".into()),
            ..Default::default()
        };
        let p = plan(&page, &req(RegistrationKind::Mortgage, &change, &[])).unwrap();
        assert_eq!(p.end_restrictions, vec![5]);
        assert_eq!(p.new_restriction.unwrap().amount.as_deref(), Some("800000.00"));
        let cancel = RegistrationDetails { mortgage_action: Some(MortgageAction::Cancel), ..Default::default() };
        let p = plan(&page, &req(RegistrationKind::Mortgage, &cancel, &[])).unwrap();
        assert_eq!((p.end_restrictions, p.new_restriction), (vec![5], None));
        assert_eq!(p.retire[0].1, Retire::Void);
    }

    #[test]
    fn objection_and_advance_notice_lapse_by_law() {
        let d = RegistrationDetails::default();
        let parties = [party("王五", A, PartyRole::RightHolder, None)];
        let page = UnitPage { right: Some(right(B)), restrictions: vec![] };
        let o = plan(&page, &req(RegistrationKind::Objection, &d, &parties)).unwrap().new_restriction.unwrap();
        assert_eq!(o.expires_at, Some(at() + Duration::days(15)));
        let a = plan(&UnitPage::default(), &req(RegistrationKind::AdvanceNotice, &d, &parties))
            .unwrap()
            .new_restriction
            .unwrap();
        assert_eq!(a.expires_at, Some(at() + Duration::days(90)));
    }

    #[test]
    fn transfer_to_the_advance_notice_holder_fulfils_it() {
        let d = RegistrationDetails::default();
        let buyer = [party("王五", A, PartyRole::RightHolder, None)];
        let notice = CurrentRestriction {
            id: 9,
            kind: RestrictionKind::AdvanceNotice,
            position: 0,
            holders: req(RegistrationKind::Transfer, &d, &buyer).holders(PartyRole::RightHolder),
            amount: None,
            maximum: false,
            authority: None,
            business_no: "b9".into(),
            certificate_id: None,
            expires_at: Some(at()),
        };
        let page = UnitPage { right: Some(right(B)), restrictions: vec![notice] };
        let p = plan(&page, &req(RegistrationKind::Transfer, &d, &buyer)).unwrap();
        assert_eq!(p.end_restrictions, vec![9]);
    }

    #[test]
    fn details_are_checked_at_the_edge() {
        let mortgage = RegistrationDetails::default();
        assert!(check_details(RegistrationKind::Mortgage, &mortgage).is_err(), "amount required");
        let d = RegistrationDetails { amount: Some("0012.5".into()), area: Some("89.5".into()), ..Default::default() };
        let d = check_details(RegistrationKind::Mortgage, &d).unwrap();
        assert_eq!((d.amount.as_deref(), d.area.as_deref()), (Some("12.50"), Some("89.50")));
        for bad in ["0", "-1", "1.234", "1,000", "abc", ""] {
            let d = RegistrationDetails { amount: Some(bad.into()), ..Default::default() };
            assert!(check_details(RegistrationKind::Mortgage, &d).is_err(), "{bad}");
        }
        let d = RegistrationDetails { right_type: Some(42), ..Default::default() };
        assert!(check_details(RegistrationKind::First, &d).is_err());
        assert!(check_details(RegistrationKind::Seizure, &RegistrationDetails::default()).is_err());
        let d = RegistrationDetails { mortgage_action: Some(MortgageAction::Cancel), ..Default::default() };
        assert!(check_details(RegistrationKind::Transfer, &d).is_err());
    }
}

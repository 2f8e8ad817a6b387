//! Written notices (书面告知) from an application's progress: 受理通知书, 不予受理告知书 (with the
//! complete list of what is missing, 一次性告知), 补正材料告知书 and 不予登记告知书 (条例 Arts. 17, 22).
//! Built only from progress events, which carry no personal data, so every level can give them.

use schemas::api::{Notice, NoticeKind, ProgressView};
use schemas::registration::Stage;

/// The prefix `store::applications::act` puts before each missing item in a step's notes.
pub const MISSING_PREFIX: &str = "需补正：";

/// The notice for the application's current stage, when that stage has one.
pub fn notice(view: &ProgressView, office_name: &str) -> Option<Notice> {
    let step = view.steps.iter().rev().find(|s| s.stage == view.state)?;
    let (reasons, missing): (Vec<String>, Vec<String>) = {
        let mut reasons = vec![];
        let mut missing = vec![];
        for n in &step.notes {
            match n.strip_prefix(MISSING_PREFIX) {
                Some(m) => missing.push(m.to_owned()),
                None => reasons.push(n.clone()),
            }
        }
        (reasons, missing)
    };
    let kind_zh = view.kind.label_zh();
    let no = view.business_no.as_str();
    let date = step.at.date_naive().format("%Y年%m月%d日").to_string();
    let (kind, title, paragraphs, basis) = match view.state {
        Stage::Accepted => {
            let mut p = vec![format!(
                "你（单位）于{date}申请的{kind_zh}（业务号 {no}），经审查，属于本机构职责范围，申请材料齐全、符合法定形式，决定予以受理。"
            )];
            if let Some(due) = view.due_date {
                p.push(format!(
                    "本机构将于{}前办结；办理进度可凭业务号在各级不动产登记信息平台查询。",
                    due.format("%Y年%m月%d日")
                ));
            }
            (
                NoticeKind::Acceptance,
                "不动产登记受理通知书",
                p,
                "《不动产登记暂行条例》第十七条第一款第（一）项、第二十条",
            )
        }
        Stage::Rejected => {
            let mut p =
                vec![format!("你（单位）于{date}申请的{kind_zh}（业务号 {no}），经审查，决定不予受理，理由如下。")];
            if !missing.is_empty() {
                p.push("申请材料不齐全或者不符合法定形式，现一次性告知需要补正的全部内容（见下列清单）；补正后可重新申请。".into());
            }
            p.push("如不服本决定，可依法申请行政复议或者提起行政诉讼。".into());
            (
                NoticeKind::Rejection,
                "不动产登记不予受理告知书",
                p,
                "《不动产登记暂行条例》第十七条第一款第（三）、（四）项",
            )
        }
        Stage::CorrectionRequested => (
            NoticeKind::Correction,
            "不动产登记补正材料告知书",
            vec![
                format!("你（单位）申请的{kind_zh}（业务号 {no}），申请材料不齐全或者不符合法定形式。"),
                "现一次性告知需要补正的全部内容（见下列清单），请补正后重新提交。".into(),
            ],
            "《不动产登记暂行条例》第十七条第一款第（三）项",
        ),
        Stage::Refused => (
            NoticeKind::Refusal,
            "不予登记告知书",
            vec![
                format!("你（单位）申请的{kind_zh}（业务号 {no}），经审核，决定不予登记，理由如下。"),
                "如不服本决定，可依法申请行政复议或者提起行政诉讼。".into(),
            ],
            "《不动产登记暂行条例》第二十二条",
        ),
        _ => return None,
    };
    Some(Notice {
        kind,
        title: title.to_owned(),
        business_no: view.business_no.clone(),
        office: view.office.clone(),
        office_name: office_name.to_owned(),
        registration_kind: view.kind,
        decided_at: step.at,
        paragraphs,
        reasons,
        missing,
        due_date: if kind == NoticeKind::Acceptance { view.due_date } else { None },
        legal_basis: basis.to_owned(),
        answered_by: view.answered_by.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use schemas::api::ProgressStep;
    use schemas::ids::{BusinessNo, DivisionCode, NodeId};
    use schemas::registration::RegistrationKind;

    fn view(state: Stage, notes: Vec<String>) -> ProgressView {
        ProgressView {
            business_no: BusinessNo::parse("32010220261130000001").unwrap(),
            office: DivisionCode::parse("320102").unwrap(),
            kind: RegistrationKind::Transfer,
            state,
            due_date: Some(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()),
            steps: vec![
                ProgressStep { seq: 1, stage: Stage::Submitted, at: Utc::now(), notes: vec![] },
                ProgressStep { seq: 2, stage: state, at: Utc::now(), notes },
            ],
            certificate_ids: vec![],
            certificates: vec![],
            answered_by: NodeId::parse("nation").unwrap(),
        }
    }

    #[test]
    fn each_decision_has_its_notice() {
        let n = notice(&view(Stage::Accepted, vec![]), "玄武区不动产登记中心").unwrap();
        assert_eq!(n.kind, NoticeKind::Acceptance);
        assert!(n.paragraphs[1].contains("2026年12月07日"));
        let n = notice(
            &view(
                Stage::Rejected,
                vec!["材料不全".into(), format!("{MISSING_PREFIX}身份证明"), format!("{MISSING_PREFIX}购房合同")],
            ),
            "x",
        )
        .unwrap();
        assert_eq!(
            (n.kind, n.reasons.clone(), n.missing.len()),
            (NoticeKind::Rejection, vec!["材料不全".to_owned()], 2)
        );
        assert!(n.due_date.is_none());
        let n = notice(&view(Stage::CorrectionRequested, vec![format!("{MISSING_PREFIX}户口簿")]), "x").unwrap();
        assert_eq!(n.missing, vec!["户口簿".to_owned()]);
        assert_eq!(
            notice(&view(Stage::Refused, vec!["权属争议未解决".into()]), "x").unwrap().kind,
            NoticeKind::Refusal
        );
        assert!(notice(&view(Stage::Reviewed, vec![]), "x").is_none(), "no notice while under review");
    }
}

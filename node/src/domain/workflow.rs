//! The stages of an application and which action may move it where (条例 Arts. 15, 17, 21, 22).

use schemas::registration::{Action, Stage};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("{action:?} is not allowed at stage {from:?}")]
    NotAllowed { from: Stage, action: Action },
    #[error("{0}")]
    MissingDetail(&'static str),
}

impl WorkflowError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::NotAllowed { from, action } => {
                format!("当前环节为「{}」，不能执行「{}」", from.label_zh(), action_label(*action))
            }
            Self::MissingDetail(m) => (*m).to_owned(),
        }
    }
}

pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::Accept => "受理",
        Action::Reject => "不予受理",
        Action::RequestCorrection => "补正告知",
        Action::Resubmit => "补正后重新提交",
        Action::Review => "审核通过",
        Action::Refuse => "不予登记",
        Action::Record => "登簿",
        Action::Certify => "缮证",
        Action::Issue => "发证",
        Action::Withdraw => "撤回",
    }
}

/// The stage an action leads to, or why it may not be taken. Reasons and missing-material
/// lists are required where the law asks for a written explanation.
pub fn transition(from: Stage, action: Action, reasons: &[String], missing: &[String]) -> Result<Stage, WorkflowError> {
    use Action as A;
    use Stage as S;
    let to = match (from, action) {
        (S::Submitted, A::Accept) => S::Accepted,
        (S::Submitted | S::CorrectionRequested, A::Reject) => S::Rejected,
        (S::Submitted, A::RequestCorrection) => S::CorrectionRequested,
        (S::CorrectionRequested, A::Resubmit) => S::Submitted,
        (S::Accepted, A::Review) => S::Reviewed,
        (S::Accepted | S::Reviewed, A::Refuse) => S::Refused,
        (S::Reviewed, A::Record) => S::Recorded,
        (S::Recorded, A::Certify) => S::Certified,
        (S::Certified, A::Issue) => S::Issued,
        // 条例 Art. 15: withdrawal only before 登簿.
        (S::Submitted | S::CorrectionRequested | S::Accepted | S::Reviewed, A::Withdraw) => S::Withdrawn,
        _ => return Err(WorkflowError::NotAllowed { from, action }),
    };
    match action {
        A::Reject if reasons.is_empty() && missing.is_empty() => {
            Err(WorkflowError::MissingDetail("不予受理须书面说明理由；材料不全的，须一次性告知需要补正的全部内容"))
        }
        A::RequestCorrection if missing.is_empty() => {
            Err(WorkflowError::MissingDetail("补正告知须一次性列明需要补正的全部材料"))
        }
        A::Refuse if reasons.is_empty() => Err(WorkflowError::MissingDetail("不予登记须书面说明理由")),
        _ => Ok(to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path() {
        let mut s = Stage::Submitted;
        for a in [Action::Accept, Action::Review, Action::Record, Action::Certify, Action::Issue] {
            s = transition(s, a, &[], &[]).expect("allowed");
        }
        assert_eq!(s, Stage::Issued);
    }

    #[test]
    fn impossible_moves_are_refused() {
        assert!(transition(Stage::Submitted, Action::Record, &[], &[]).is_err());
        assert!(transition(Stage::Issued, Action::Issue, &[], &[]).is_err());
        assert!(transition(Stage::Recorded, Action::Withdraw, &[], &[]).is_err());
        assert!(transition(Stage::Withdrawn, Action::Accept, &[], &[]).is_err());
        assert!(matches!(
            transition(Stage::Submitted, Action::RequestCorrection, &[], &[]),
            Err(WorkflowError::MissingDetail(_))
        ));
        assert_eq!(
            transition(Stage::Submitted, Action::RequestCorrection, &[], &["身份证明".into()]),
            Ok(Stage::CorrectionRequested)
        );
        assert_eq!(transition(Stage::CorrectionRequested, Action::Resubmit, &[], &[]), Ok(Stage::Submitted));
    }
}

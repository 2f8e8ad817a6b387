//! Unified identity authentication (统一身份认证) of the integrated government service platform,
//! as an adapter: a node sends the applicant's browser to the platform's login page with its own
//! callback as `service`; the platform sends the browser back with a one-time ticket, which the
//! node validates with the platform (`GET {base}/validate?ticket=&service=`), getting the person's
//! name, ID number and phone. The platform keeps its own single sign-on session, so after a login
//! at the national or provincial portal a county's login page is answered at once with a ticket
//! for the county: the login carries down without a second password.
//!
//! [`simulator`] is a stand-in for the platform (users, SSO cookie, one-time tickets bound to the
//! service, and switchable failures, nonsense answers and slowness) for the demo and the tests.

use std::time::Duration;

use schemas::ids::{IdType, check_id_document};

pub mod simulator;

/// A person as the platform vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("统一身份认证平台不可达或超时")]
    Unreachable,
    #[error("票据无效、已使用或已过期")]
    InvalidTicket,
    #[error("统一身份认证平台应答格式错误")]
    BadAnswer,
}

/// The platform's address and a client with a time limit.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    base: String,
    client: reqwest::Client,
}

impl IdentityProvider {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), client })
    }

    /// Where to send the browser to sign in, coming back to `service`.
    pub fn login_url(&self, service: &str) -> String {
        let query = serde_urlencoded::to_string([("service", service)]).unwrap_or_default();
        format!("{}/login?{query}", self.base)
    }

    /// Redeem a ticket issued for `service`. The answer is checked like any input: a name, a
    /// valid 公民身份号码 and a mainland mobile number, or it is a bad answer.
    pub async fn validate(&self, ticket: &str, service: &str) -> Result<Identity, IdentityError> {
        let answer = self
            .client
            .get(format!(
                "{}/validate?{}",
                self.base,
                serde_urlencoded::to_string([("ticket", ticket), ("service", service)]).unwrap_or_default()
            ))
            .send()
            .await
            .map_err(|_| IdentityError::Unreachable)?;
        if answer.status().is_server_error() {
            return Err(IdentityError::Unreachable);
        }
        if !answer.status().is_success() {
            return Err(IdentityError::BadAnswer);
        }
        let body: serde_json::Value = answer.json().await.map_err(|_| IdentityError::BadAnswer)?;
        match body.get("ok") {
            Some(serde_json::Value::Bool(true)) => {}
            Some(serde_json::Value::Bool(false)) => return Err(IdentityError::InvalidTicket),
            _ => return Err(IdentityError::BadAnswer),
        }
        let user = body.get("user").ok_or(IdentityError::BadAnswer)?;
        let field = |k: &str| user.get(k).and_then(|v| v.as_str()).map(str::trim).unwrap_or_default().to_owned();
        let name = field("name");
        let id_number = check_id_document(IdType::IdCard, &field("id_number")).map_err(|_| IdentityError::BadAnswer)?;
        let phone = crate::domain::applicant::parse_phone(&field("phone")).map_err(|_| IdentityError::BadAnswer)?;
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(IdentityError::BadAnswer);
        }
        Ok(Identity { name, id_number, phone })
    }
}

//! The applicant's proof (an applicant's name and ID number, beside the business number) travels
//! in a request body or form, never in a URL: query strings end up in browser history, access
//! logs, proxies and `Referer` headers. A request whose query names an applicant is refused with
//! 400 `personal_data_in_url` before anything is looked up or written, whatever else it carries —
//! refusing rather than ignoring the fields tells the caller why, and keeps such URLs from working.

use actix_web::HttpRequest;
use schemas::api::ApplicantProof;
use schemas::error::ErrorCode;

use super::ApiError;
use super::error::parse_json;

/// Query keys that would put the proof into a URL.
pub const PROOF_KEYS: &[&str] = &["name", "id_number"];

/// Whether a query string names an applicant (`name` or `id_number`, whatever the value, keys
/// percent-decoded). An unreadable query is refused as such.
pub fn query_names_applicant(query: &str) -> Result<bool, ApiError> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|_| ApiError::with_message(ErrorCode::InvalidRequest, "网址中的参数无法解析"))?;
    Ok(pairs.iter().any(|(k, _)| PROOF_KEYS.contains(&k.as_str())))
}

/// 400 `personal_data_in_url` when the request's query names an applicant. Every API route that
/// takes the proof calls this first.
pub fn refuse_in_url(req: &HttpRequest) -> Result<(), ApiError> {
    if query_names_applicant(req.query_string())? {
        return Err(ApiError::new(ErrorCode::PersonalDataInUrl));
    }
    Ok(())
}

/// The name and ID number an applicant asks with (a JSON body or form fields), as given.
#[derive(Default)]
pub struct Proof {
    pub name: Option<String>,
    pub id_number: Option<String>,
}

impl Proof {
    /// The proof a request carries: none for a GET (staff, with their session), the JSON body
    /// `{"name", "id_number"}` for a POST. Refused first if the query names an applicant.
    pub fn of_request(req: &HttpRequest, body: &[u8]) -> Result<Self, ApiError> {
        refuse_in_url(req)?;
        if req.method() == actix_web::http::Method::POST { Self::from_json(body) } else { Ok(Self::default()) }
    }

    /// The proof of a JSON body `{"name": …, "id_number": …}`.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let posted: ApplicantProof = parse_json(body)?;
        Ok(Self { name: Some(posted.name), id_number: Some(posted.id_number) })
    }

    /// Both fields, non-blank and of a sane length; `None` when the proof is missing or odd.
    pub fn credentials(self) -> Option<(String, String)> {
        match (self.name, self.id_number) {
            (Some(n), Some(i)) if !n.trim().is_empty() && !i.trim().is_empty() && n.len() <= 300 && i.len() <= 64 => {
                Some((n, i))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_query_naming_an_applicant_is_told_apart() {
        assert!(!query_names_applicant("").unwrap());
        assert!(!query_names_applicant("business_no=1&code=x").unwrap());
        assert!(query_names_applicant("id_number=").unwrap());
        assert!(query_names_applicant("a=1&name=%E5%BC%A0").unwrap());
        assert!(query_names_applicant("id%5Fnumber=1").unwrap(), "keys are decoded");
        assert!(!query_names_applicant("surname=1&id_numbers=2").unwrap());
    }
}

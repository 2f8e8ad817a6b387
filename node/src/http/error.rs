//! `ApiError`: a wire code, a Chinese message for people and, kept out of the answer, the cause
//! for the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use schemas::error::{ErrorBody, ErrorCode};
use schemas::ids::IdError;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub cause: Option<String>,
    /// Overrides the code's status (used when passing a child's refusal through).
    pub status: Option<u16>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, message: code.message_zh().to_owned(), cause: None, status: None }
    }
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), cause: None, status: None }
    }
    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: ErrorCode::Internal.message_zh().to_owned(),
            cause: Some(cause.into()),
            status: None,
        }
    }
    pub fn caused_by(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status.unwrap_or_else(|| self.code.http_status()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = %self.code, cause = self.cause.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::info!(code = %self.code, cause = self.cause.as_deref().unwrap_or(""), "request refused");
        }
        HttpResponse::build(status).json(ErrorBody::new(self.code, self.message.clone()))
    }
}

impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        let code = match e.code() {
            "invalid_division_code" => ErrorCode::InvalidDivisionCode,
            "invalid_unit_code" => ErrorCode::InvalidUnitCode,
            "invalid_id_number" => ErrorCode::InvalidIdNumber,
            "invalid_credit_code" => ErrorCode::InvalidCreditCode,
            "invalid_id_document" => ErrorCode::InvalidIdDocument,
            "invalid_business_no" => ErrorCode::InvalidBusinessNo,
            "invalid_node_id" => ErrorCode::InvalidNodeId,
            "invalid_certificate_id" => ErrorCode::InvalidCertificateId,
            "invalid_certificate_number" => ErrorCode::InvalidCertificateNumber,
            _ => ErrorCode::InvalidField,
        };
        ApiError::with_message(code, e.message_zh())
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<crate::store::applications::AppError> for ApiError {
    fn from(e: crate::store::applications::AppError) -> Self {
        use crate::store::applications::AppError;
        match e {
            AppError::Refused { code, message } => ApiError::with_message(code, message),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<federation::error::FederationError> for ApiError {
    fn from(e: federation::error::FederationError) -> Self {
        ApiError::new(e.code()).caused_by(e.to_string())
    }
}

/// Parse a JSON body into a wire type; a field that fails its check is reported with that
/// field's code (an invalid unit code is `invalid_unit_code`, not a generic parse error).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = path
            .rsplit('.')
            .next()
            .unwrap_or("")
            .trim_end_matches(|c: char| c == ']' || c.is_ascii_digit() || c == '[');
        let code = match field {
            "unit_code" => ErrorCode::InvalidUnitCode,
            "division" | "office" => ErrorCode::InvalidDivisionCode,
            "business_no" => ErrorCode::InvalidBusinessNo,
            _ if inner.is_syntax() || inner.is_eof() => ErrorCode::InvalidRequest,
            _ => ErrorCode::InvalidField,
        };
        let detail = inner.to_string();
        // Our identifier checks speak Chinese; serde's own messages are English, so name the field.
        let message = if detail.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
            detail.split(" at line").next().unwrap_or(&detail).to_owned()
        } else if path.is_empty() || path == "." {
            format!("{}：{}", code.message_zh(), detail)
        } else {
            format!("字段 {path} 无效：{detail}")
        };
        ApiError::with_message(code, message)
    })
}

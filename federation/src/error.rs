//! Why a federation step failed, each mapped to a stable wire code.

use schemas::error::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("sender {0} is not a configured peer")]
    UnknownSender(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("unknown key id {0}")]
    UnknownKey(String),
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("unsupported version {0}")]
    UnsupportedVersion(u32),
    #[error("envelope addressed to {0}")]
    WrongRecipient(String),
    #[error("sent_at outside the allowed skew")]
    Stale,
    #[error("origin {origin} not below sender {sender}")]
    OriginNotAllowed { origin: String, sender: String },
    #[error("token invalid: {0}")]
    TokenInvalid(String),
    #[error("token expired")]
    TokenExpired,
    #[error("peer answered {status}: {body}")]
    PeerRefused { status: u16, body: String },
    #[error("transport: {0}")]
    Transport(String),
}

impl FederationError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownSender(_) => ErrorCode::UnknownSender,
            Self::BadSignature => ErrorCode::BadSignature,
            Self::UnknownKey(_) => ErrorCode::UnknownKey,
            Self::Malformed(_) => ErrorCode::MalformedEnvelope,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::WrongRecipient(_) => ErrorCode::WrongRecipient,
            Self::Stale => ErrorCode::StaleEnvelope,
            Self::OriginNotAllowed { .. } => ErrorCode::OriginNotAllowed,
            Self::TokenInvalid(_) => ErrorCode::TokenInvalid,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::PeerRefused { .. } | Self::Transport(_) => ErrorCode::UpstreamUnavailable,
        }
    }

    /// Whether retrying later may succeed (the peer is down or overloaded), as opposed to a
    /// refusal that will repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::PeerRefused { status, .. } => *status >= 500 || *status == 429 || *status == 401,
            _ => false,
        }
    }
}

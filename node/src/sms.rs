//! The SMS gateway that carries applicants' verification codes (短信验证码). Two adapters behind
//! one type: a development sink that appends each message to a file (the demo and the tests read
//! the codes there; never for production, the codes are in clear in it), and the operator's HTTP
//! gateway (`POST {url}` with `{"phone", "text"}`, answered `{"ok": true, "id": …}`), with a time
//! limit, whose failures and bad answers are reported as such so the applicant is told to retry.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::settings::SmsSettings;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmsError {
    #[error("短信网关无响应或超时")]
    Unreachable,
    #[error("短信网关拒绝发送（HTTP {0}）")]
    Refused(u16),
    #[error("短信网关应答格式错误")]
    BadAnswer,
    #[error("短信发送失败：{0}")]
    Local(String),
}

#[derive(Debug, Clone)]
pub enum SmsGateway {
    /// Development sink: one line per message, `time<TAB>phone<TAB>text`.
    File(PathBuf),
    Http {
        url: String,
        client: reqwest::Client,
    },
}

impl SmsGateway {
    /// The gateway the settings name (`data_dir` resolves the sink's relative path).
    pub fn from_settings(sms: &SmsSettings, file: PathBuf) -> Result<Self, String> {
        match sms.gateway.as_str() {
            "file" => Ok(Self::File(file)),
            "http" => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_millis(sms.timeout_ms))
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Self::Http { url: sms.url.clone(), client })
            }
            other => Err(format!("unknown SMS gateway {other}")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Http { .. } => "http",
        }
    }

    /// Send one message; `Ok` only when the gateway took it.
    pub async fn send(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        match self {
            Self::File(path) => {
                let line = format!("{}\t{phone}\t{text}\n", chrono::Utc::now().to_rfc3339());
                let path = path.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    let mut options = std::fs::OpenOptions::new();
                    options.create(true).append(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    options.open(&path)?.write_all(line.as_bytes())
                })
                .await
                .map_err(|e| SmsError::Local(e.to_string()))?
                .map_err(|e| SmsError::Local(e.to_string()))
            }
            Self::Http { url, client } => {
                let answer = client
                    .post(url)
                    .json(&serde_json::json!({"phone": phone, "text": text}))
                    .send()
                    .await
                    .map_err(|_| SmsError::Unreachable)?;
                let status = answer.status();
                if !status.is_success() {
                    return Err(SmsError::Refused(status.as_u16()));
                }
                let body: serde_json::Value = answer.json().await.map_err(|_| SmsError::BadAnswer)?;
                if body.get("ok") == Some(&serde_json::Value::Bool(true)) { Ok(()) } else { Err(SmsError::BadAnswer) }
            }
        }
    }
}

//! Node settings, layered: defaults → TOML file → `BDC_…__…` environment → secrets from
//! `BDC_…_FILE` → [`Settings::validate`]. Unknown keys are refused at every layer.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use schemas::api::{Mode, NavigationMode};
use schemas::divisions::Divisions;
use schemas::ids::{DivisionCode, DivisionLevel, NodeId};
use serde::{Deserialize, Serialize};

/// The reference file printed by `bdc-node config print-defaults`.
pub const DEFAULTS_TOML: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub node_id: NodeId,
    pub mode: Mode,
    pub division: DivisionCode,
    /// Directory for keys and the SQLite database; relative paths below are resolved against it.
    pub data_dir: PathBuf,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub keys: KeySettings,
    pub federation: FederationSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub sms: SmsSettings,
    #[serde(default)]
    pub identity: IdentitySettings,
    #[serde(default)]
    pub parent: Option<PeerSettings>,
    #[serde(default)]
    pub children: Vec<PeerSettings>,
    #[serde(default)]
    pub offices: Vec<OfficeSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to bind, e.g. `0.0.0.0:8443`; port 0 picks a free port.
    pub listen: String,
    /// The URL peers and browsers use to reach this node (empty: derived from the bound address).
    pub public_url: String,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Per-client limits on logins, public queries and submissions.
    #[serde(default = "yes")]
    pub rate_limits: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://node.db` (relative to data_dir) or `postgres://user@host/db`.
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// SM2 private key, PKCS#8 PEM (`bdc-node keygen` writes one); relative to data_dir.
    pub signing_key_file: PathBuf,
    /// SM4 data key (hex) sealing personal data at rest; relative to data_dir.
    pub data_key_file: PathBuf,
    /// Create the key at start when the file is missing (the demo does; production should not).
    pub generate_if_missing: bool,
    /// How often a running node re-reads the data keyring file (key rotation), seconds.
    #[serde(default = "default_key_reload_secs")]
    pub reload_secs: u64,
}

fn default_key_reload_secs() -> u64 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSettings {
    /// Allowed |sent_at − now| for an inbound envelope, seconds.
    pub max_skew_secs: i64,
    /// Most events in one envelope.
    pub batch_limit: usize,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// Timeout for a synchronous forward of an application to a child, ms.
    pub forward_timeout_ms: u64,
    /// Timeout for an events delivery, ms.
    pub delivery_timeout_ms: u64,
    /// Lifetime of a link-navigation token, seconds.
    pub token_ttl_secs: i64,
    /// How many peers may be sent to at once.
    pub parallelism: usize,
    /// How often a parent checks its children's transparency logs for consistency, seconds.
    #[serde(default = "default_log_check_secs")]
    pub log_check_secs: u64,
}

fn default_log_check_secs() -> u64 {
    60
}

/// TLS on the listener and mutual TLS between nodes; unset means plain HTTP (the demo, loopback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificate chain (PEM) served by the listener and presented to peers.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// CA bundle (PEM) of the federation: enables mutual TLS; peers' certificates must chain to it
    /// and name the peer's node id as a DNS subject alternative name.
    #[serde(default)]
    pub peer_ca_file: Option<PathBuf>,
    /// How often the certificate files are checked for renewal, seconds.
    #[serde(default = "default_reload_secs")]
    pub reload_secs: u64,
}

fn default_reload_secs() -> u64 {
    30
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self { cert_file: None, key_file: None, peer_ca_file: None, reload_secs: default_reload_secs() }
    }
}

/// The integrated government service platform's unified identity authentication (统一身份认证).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// Base URL of the platform (`{url}/login`, `{url}/validate`); empty: not connected.
    #[serde(default)]
    pub provider_url: String,
    /// The platform's answer time limit, milliseconds (0: 3000).
    #[serde(default)]
    pub timeout_ms: u64,
}

/// The SMS gateway that sends applicants their verification codes (短信验证码).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// `file`: a development sink that appends each message to `file` (never in production);
    /// `http`: the operator's SMS gateway at `url`.
    pub gateway: String,
    /// The sink's file (relative to `data_dir`).
    pub file: PathBuf,
    /// The HTTP gateway: `POST {url}` with `{"phone", "text"}`, answered `{"ok": true, "id": …}`.
    pub url: String,
    /// How long a code stays valid, seconds.
    pub code_ttl_secs: i64,
    /// Least time between two codes to one phone, seconds.
    pub resend_secs: i64,
    /// The gateway's answer time limit, milliseconds.
    pub timeout_ms: u64,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            gateway: "file".into(),
            file: PathBuf::from("sms-outbox.txt"),
            url: String::new(),
            code_ttl_secs: 300,
            resend_secs: 60,
            timeout_ms: 3000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `EnvFilter` directives, e.g. `info` or `bdc_node=debug,info`.
    pub filter: String,
    /// One JSON object per line instead of text.
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    pub node_id: NodeId,
    pub division: DivisionCode,
    pub url: String,
    /// Public key (SPKI PEM) as text, or…
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// …in a file (relative to data_dir).
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// For children only.
    #[serde(default)]
    pub navigation: Option<NavigationMode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeSettings {
    pub division: DivisionCode,
    /// 登记机构名称, e.g. 南京市玄武区不动产登记中心
    pub name: String,
    /// Statutory time limit in working days (条例 Art. 20: 30 unless a shorter local limit applies).
    #[serde(default = "default_time_limit")]
    pub time_limit_days: u32,
    /// Shorter limits for some kinds, in working days (e.g. `mortgage = 5`, `cancellation = 1`,
    /// after 国办发〔2019〕8号 and local rules).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub time_limits: std::collections::BTreeMap<schemas::registration::RegistrationKind, u32>,
    /// Kinds approved automatically at 受理 (秒批) when every review and recording rule passes:
    /// 审核, 登簿 and, where the kind issues one, 缮证 and 发证 follow at once, with the rule trace
    /// kept. Anything a rule blocks stays with staff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_approve: Vec<schemas::registration::RegistrationKind>,
}

impl OfficeSettings {
    /// The statutory limit for a kind, in working days.
    pub fn time_limit(&self, kind: schemas::registration::RegistrationKind) -> u32 {
        self.time_limits.get(&kind).copied().unwrap_or(self.time_limit_days)
    }
}

fn default_time_limit() -> u32 {
    30
}

/// Why settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Load(String),
    #[error("invalid settings:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Settings {
    /// Load from an optional file plus the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(file, &env)
    }

    /// Load with an explicit environment (tests pass their own).
    pub fn load_with_env(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(SettingsError::Load(format!("file {} does not exist", path.display())));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let plain: std::collections::HashMap<String, String> =
            env.iter().filter(|(k, _)| k.starts_with("BDC_") && !k.ends_with("_FILE")).cloned().collect();
        builder = builder
            .add_source(Environment::with_prefix("BDC").prefix_separator("_").separator("__").source(Some(plain)));
        // Secrets: BDC_DATABASE__URL_FILE=/run/secrets/db sets database.url from the file.
        for (key, path) in env.iter().filter(|(k, _)| k.starts_with("BDC_") && k.ends_with("_FILE")) {
            let name = key.trim_start_matches("BDC_").trim_end_matches("_FILE").to_ascii_lowercase().replace("__", ".");
            let value = std::fs::read_to_string(path)
                .map_err(|e| SettingsError::Load(format!("{key}: cannot read {path}: {e}")))?;
            builder = builder
                .set_override(name, value.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| SettingsError::Load(e.to_string()))?;
        }
        let settings: Settings =
            builder.build().and_then(Config::try_deserialize).map_err(|e| SettingsError::Load(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Every inconsistency at once, in words an operator can act on.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let divisions = Divisions::builtin();
        let mut problems = Vec::new();
        let known = |d: &DivisionCode| d.is_nation() || divisions.is_known(d);
        match self.sms.gateway.as_str() {
            "file" => {}
            "http" if self.sms.url.starts_with("https://") || self.sms.url.starts_with("http://") => {}
            "http" => problems.push("sms.gateway = \"http\" needs sms.url (http:// or https://)".into()),
            other => problems.push(format!("sms.gateway must be \"file\" or \"http\", not {other:?}")),
        }
        if !(60..=1800).contains(&self.sms.code_ttl_secs) || !(10..=600).contains(&self.sms.resend_secs) {
            problems.push("sms.code_ttl_secs must be 60–1800 and sms.resend_secs 10–600".into());
        }
        if !known(&self.division) {
            problems.push(format!("division {} is not a GB/T 2260 code", self.division));
        }
        match self.mode {
            Mode::National => {
                if !self.division.is_nation() {
                    problems.push("mode = national needs division = \"000000\"".into());
                }
                if self.parent.is_some() {
                    problems.push("mode = national cannot have a parent".into());
                }
            }
            Mode::Province => {
                if self.division.level() != DivisionLevel::Province {
                    problems.push(format!("mode = province needs a province division (xx0000), not {}", self.division));
                }
                if self.parent.is_none() {
                    problems.push("mode = province needs a [parent] (the national node)".into());
                }
            }
            Mode::County => {
                if matches!(self.division.level(), DivisionLevel::Nation | DivisionLevel::Province) {
                    problems
                        .push(format!("mode = county needs a prefecture or county division, not {}", self.division));
                }
                if self.parent.is_none() {
                    problems.push("mode = county needs a [parent] (the provincial node)".into());
                }
                if self.offices.is_empty() {
                    problems.push("mode = county needs at least one [[offices]] entry".into());
                }
            }
        }
        if let Some(parent) = &self.parent {
            if !parent.division.contains(&self.division) || parent.division == self.division {
                problems.push(format!("parent division {} does not contain {}", parent.division, self.division));
            }
            if parent.navigation.is_some() {
                problems.push("parent.navigation is only for children".into());
            }
            self.check_peer("parent", parent, &mut problems);
        }
        for child in &self.children {
            if !known(&child.division) {
                problems.push(format!("child {} division {} is not a GB/T 2260 code", child.node_id, child.division));
            }
            if !self.division.contains(&child.division) || child.division == self.division {
                problems.push(format!(
                    "child {} division {} is not below {}",
                    child.node_id, child.division, self.division
                ));
            }
            if child.navigation.is_none() {
                problems.push(format!("child {} needs navigation = \"interface\" or \"link\"", child.node_id));
            }
            self.check_peer("child", child, &mut problems);
        }
        let mut ids: Vec<&NodeId> = self.children.iter().map(|c| &c.node_id).collect();
        ids.extend(self.parent.iter().map(|p| &p.node_id));
        ids.push(&self.node_id);
        let before = ids.len();
        ids.sort();
        ids.dedup();
        if ids.len() != before {
            problems.push("node ids of this node, its parent and children must differ".into());
        }
        for office in &self.offices {
            if !known(&office.division) {
                problems.push(format!("office division {} is not a GB/T 2260 code", office.division));
            }
            if office.division.is_nation() && self.mode != Mode::National {
                // 国家层面登记 (State-Council sea/island use, key state forests) is the national
                // office's alone; no county or provincial office may take it.
                problems.push(
                    "office 000000 is the national office (national-level registrations only): only a node with mode = national may host it"
                        .into(),
                );
            } else if !self.division.contains(&office.division) {
                problems
                    .push(format!("office {} is not within the node's division {}", office.division, self.division));
            }
            if office.name.trim().is_empty() {
                problems.push(format!("office {} needs a name", office.division));
            }
            if !(1..=60).contains(&office.time_limit_days) {
                problems.push(format!("office {} time_limit_days must be 1..=60", office.division));
            }
            if let Some((kind, days)) = office.time_limits.iter().find(|(_, d)| !(1..=60).contains(*d)) {
                problems.push(format!(
                    "office {} time_limits.{} = {days} must be 1..=60",
                    office.division,
                    kind.as_str()
                ));
            }
        }
        if self.database.url.trim().is_empty() {
            problems.push("database.url is empty".into());
        }
        if self.federation.batch_limit == 0 || self.federation.parallelism == 0 {
            problems.push("federation.batch_limit and federation.parallelism must be at least 1".into());
        }
        if self.federation.max_skew_secs <= 0 || self.federation.token_ttl_secs <= 0 {
            problems.push("federation.max_skew_secs and token_ttl_secs must be positive".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problems.push("tls.cert_file and tls.key_file go together".into());
        }
        if self.tls.peer_ca_file.is_some() && self.tls.cert_file.is_none() {
            problems.push("mutual TLS (tls.peer_ca_file) needs tls.cert_file and tls.key_file".into());
        }
        if self.tls.reload_secs == 0 {
            problems.push("tls.reload_secs must be at least 1".into());
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("http.listen {:?} is not an address like 127.0.0.1:8700", self.http.listen));
        }
        if problems.is_empty() { Ok(()) } else { Err(SettingsError::Invalid(problems)) }
    }

    fn check_peer(&self, what: &str, peer: &PeerSettings, problems: &mut Vec<String>) {
        if !(peer.url.starts_with("http://") || peer.url.starts_with("https://")) {
            problems.push(format!("{what} {} url must start with http:// or https://", peer.node_id));
        }
        if peer.public_key_pem.is_none() == peer.public_key_file.is_none() {
            problems.push(format!("{what} {} needs exactly one of public_key_pem or public_key_file", peer.node_id));
        }
    }

    /// A path from the settings, resolved against `data_dir` when relative.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_owned() } else { self.data_dir.join(path) }
    }

    /// The database URL with a relative SQLite path resolved against `data_dir`.
    pub fn database_url(&self) -> String {
        let (backend, target) = crate::db::classify_url(&self.database.url);
        match backend {
            crate::db::Backend::Postgres => target,
            crate::db::Backend::Sqlite => self.resolve(Path::new(&target)).display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn committed_defaults_file_matches() {
        let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/defaults.toml"))
            .expect("deploy/config/defaults.toml");
        assert_eq!(committed, DEFAULTS_TOML, "deploy/config/defaults.toml differs from node/defaults.toml");
    }

    #[test]
    fn example_configs_load() {
        for name in ["national.toml", "province.toml", "county.toml"] {
            let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config")).join(name);
            let s = Settings::load_with_env(Some(&path), &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!s.node_id.as_str().is_empty());
        }
    }

    #[test]
    fn environment_overrides_and_unknown_keys() {
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/national.toml"));
        let s = Settings::load_with_env(Some(&path), &env(&[("BDC_HTTP__LISTEN", "127.0.0.1:9999")])).expect("load");
        assert_eq!(s.http.listen, "127.0.0.1:9999");
        let err = Settings::load_with_env(Some(&path), &env(&[("BDC_HTTP__LISTN", "x")])).expect_err("unknown key");
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn secrets_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://bdc:s3cret@db.internal/bdc\n").expect("write");
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/national.toml"));
        let s =
            Settings::load_with_env(Some(&path), &env(&[("BDC_DATABASE__URL_FILE", secret.to_str().expect("utf8"))]))
                .expect("load");
        assert_eq!(s.database.url, "postgres://bdc:s3cret@db.internal/bdc");
    }

    #[test]
    fn only_the_national_node_hosts_the_national_office() {
        let national = |name: &str| OfficeSettings {
            division: DivisionCode::nation(),
            name: name.into(),
            time_limit_days: 30,
            time_limits: Default::default(),
            auto_approve: vec![],
        };
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/national.toml"));
        let s = Settings::load_with_env(Some(&path), &[]).expect("national.toml");
        assert!(s.offices.iter().any(|o| o.division.is_nation()), "national.toml configures the national office");
        for file in ["county.toml", "province.toml"] {
            let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config")).join(file);
            let mut s = Settings::load_with_env(Some(&path), &[]).expect("load");
            s.offices.push(national("自然资源部不动产登记中心"));
            let err = s.validate().expect_err("a county or province cannot host the national office").to_string();
            assert!(err.contains("office 000000 is the national office"), "{err}");
        }
    }

    #[test]
    fn inconsistent_modes_are_refused_with_reasons() {
        let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/county.toml"));
        let err = Settings::load_with_env(Some(&path), &env(&[("BDC_MODE", "national")])).expect_err("bad");
        let text = err.to_string();
        assert!(text.contains("mode = national needs division"), "{text}");
        assert!(text.contains("cannot have a parent"), "{text}");
        let err = Settings::load_with_env(Some(&path), &env(&[("BDC_DIVISION", "329999")])).expect_err("bad");
        assert!(err.to_string().contains("329999 is not a GB/T 2260 code"), "{err}");
        let err = Settings::load_with_env(Some(&path), &env(&[("BDC_DIVISION", "32010")])).expect_err("bad");
        assert!(err.to_string().contains("division"), "{err}");
    }
}

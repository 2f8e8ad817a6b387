//! The `bdc-node` command line. Thin: parse, load settings, start tracing, hand over.

use std::path::PathBuf;
use std::process::ExitCode;

use bdc_node::settings::{DEFAULTS_TOML, Settings};
use bdc_node::{Application, demo, keys, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bdc-node", version, about = "互联网+不动产登记 node: national, provincial or county")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node from a settings file (plus BDC_… environment variables).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run a whole federation on 127.0.0.1: nation P, province 320000 P+1, counties 320102 P+2
    /// (interface navigation) and 320104 P+3 (link navigation), each on its own SQLite database.
    Demo {
        #[arg(long, default_value_t = 8700)]
        base_port: u16,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Write a new SM2 key pair (PKCS#8 and SPKI PEM, readable by OpenSSL 3) and an SM4 data key.
    Keygen {
        /// Directory for the key files.
        #[arg(long, default_value = "keys")]
        out: PathBuf,
        /// File name stem: <name>.key.pem and <name>.pub.pem.
        #[arg(long, default_value = "node")]
        name: String,
    },
    /// Settings helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Verify a downloaded certificate package offline: the signature over the content with the
    /// issuer's key, the identifier's check character and that the content names it.
    VerifyCert {
        /// A package from GET /api/v1/certificates/{id}/package or …/package.zip
        file: PathBuf,
        /// Trust this issuer key (SPKI PEM) instead of the one inside the package.
        #[arg(long)]
        issuer_key: Option<PathBuf>,
    },
    /// The audit log: verify the chain, export records.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Staff accounts of the offices this node hosts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The holiday arrangement that statutory time limits count working days by.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// The SM4 data keys that seal personal data: rotation and re-encryption.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Put a new data key in front of the keyring file, wait for running nodes to load it, then
    /// seal every stored value again under it. Nodes keep serving throughout.
    RotateData {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seconds to wait before re-encrypting (default: keys.reload_secs + 2).
        #[arg(long)]
        wait_secs: Option<u64>,
    },
    /// Seal again whatever is not under the current key (resumes an interrupted rotation).
    Rekey {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Key ids in the keyring and, per sealed column, values not yet under the current key.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Remove older keys from the keyring file; refused while anything is sealed under them.
    DropOld {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Load a year's arrangement from a CSV file of `date,holiday|workday,name` lines (as the
    /// State Council's notice sets 法定节假日 and 调休上班 days). All lines or none are stored.
    Import {
        #[arg(long)]
        config: Option<PathBuf>,
        file: PathBuf,
    },
    /// Print the arrangement of a year.
    Show {
        #[arg(long)]
        config: Option<PathBuf>,
        year: i32,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the whole chain and every signed checkpoint; name the first bad record.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write records as CSV or JSON to stdout.
    Export {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "csv")]
        format: String,
        /// RFC 3339 time, e.g. 2026-11-01T00:00:00Z
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create an account, or reset its password. The password is read from a file (or stdin
    /// with `-`) so that it never appears in the shell history or the process list.
    Add {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Division code of the office (one of the node's [[offices]]).
        #[arg(long)]
        office: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long, default_value = "")]
        display_name: String,
        /// clerk (registration work), auditor (audit log), sysadmin (accounts) or secadmin (security).
        #[arg(long, default_value = "clerk")]
        role: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the reference settings file with every default.
    PrintDefaults,
    /// Load and validate a settings file (plus environment) and print the result.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bdc-node: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config { command: ConfigCommand::PrintDefaults } => {
            print!("{DEFAULTS_TOML}");
            Ok(())
        }
        Command::Config { command: ConfigCommand::Check { config } } => {
            let settings = Settings::load(config.as_deref())?;
            print!("{}", toml::to_string_pretty(&settings)?);
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::Add { config, office, username, password_file, display_name, role },
        } => {
            let settings = Settings::load(config.as_deref())?;
            let office = schemas::ids::DivisionCode::parse(&office)?;
            if !settings.offices.iter().any(|o| o.division == office) {
                anyhow::bail!("office {office} is not hosted by this node (see [[offices]] in the settings)");
            }
            let valid_name = !username.is_empty()
                && username.len() <= 64
                && username.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
            if !valid_name {
                anyhow::bail!("username must be 1-64 characters of a-z, 0-9, '-', '_', '.'");
            }
            let password = if password_file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin().read_line(&mut s)?;
                s
            } else {
                std::fs::read_to_string(&password_file)?
            };
            let password = password.trim_end_matches(['\n', '\r']);
            if password.chars().count() < 12 {
                anyhow::bail!("the password must have at least 12 characters");
            }
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            let name = if display_name.is_empty() { username.clone() } else { display_name };
            db.write(|conn| {
                bdc_node::store::staff::upsert(conn, office.as_str(), &username, password, &name, &role)
                    .map_err(anyhow::Error::msg)
            })?;
            println!("staff account {username} of office {office} is ready");
            Ok(())
        }
        Command::Calendar { command: CalendarCommand::Import { config, file } } => {
            let settings = Settings::load(config.as_deref())?;
            let text = std::fs::read_to_string(&file)?;
            let days = text
                .lines()
                .enumerate()
                .filter_map(|(i, l)| bdc_node::domain::calendar::parse_line(l).map_err(|e| (i + 1, e)).transpose())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|(line, e)| anyhow::anyhow!("{}: line {line}: {e}", file.display()))?;
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            db.write(|conn| {
                for (day, working, name) in &days {
                    bdc_node::store::calendar::put(conn, *day, *working, name, "cli:calendar-import")?;
                }
                Ok::<_, bdc_node::db::DbError>(())
            })?;
            println!("{} days of the arrangement stored", days.len());
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateData { config, wait_secs } } => {
            let settings = Settings::load(config.as_deref())?;
            let wait = std::time::Duration::from_secs(wait_secs.unwrap_or(settings.keys.reload_secs + 2));
            println!("new data key written; waiting {} s for running nodes to load it …", wait.as_secs());
            let r = keys::rotate_data_key(&settings, wait)?;
            println!("data key {} → {}", r.old_key, r.new_key);
            for (column, n) in r.resealed {
                println!("  {column}: {n} values sealed again");
            }
            println!("the old key stays in the file; `bdc-node keys drop-old` removes it");
            Ok(())
        }
        Command::Keys { command: KeysCommand::Rekey { config } } => {
            let settings = Settings::load(config.as_deref())?;
            for (column, n) in keys::rekey(&settings)? {
                println!("{column}: {n} values sealed again");
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::Status { config } } => {
            let settings = Settings::load(config.as_deref())?;
            let ring = keys::load_data_keyring(&settings.resolve(&settings.keys.data_key_file), false)?;
            println!("current data key: {}", ring.current_id());
            println!("older keys:       {}", ring.ids().into_iter().skip(1).collect::<Vec<_>>().join(", "));
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            let sealer = bdc_node::personal::Sealer::from_keyring(&ring);
            for (column, n) in bdc_node::store::rekey::stale_counts(&db, &sealer).map_err(anyhow::Error::msg)? {
                println!("  {column}: {n} values under older keys");
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::DropOld { config } } => {
            let settings = Settings::load(config.as_deref())?;
            let dropped = keys::drop_old_keys(&settings)?;
            println!("dropped {} older key(s): {}", dropped.len(), dropped.join(", "));
            Ok(())
        }
        Command::Calendar { command: CalendarCommand::Show { config, year } } => {
            let settings = Settings::load(config.as_deref())?;
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            let mut conn = db.conn()?;
            for (day, working, name) in bdc_node::store::calendar::year(&mut conn, year)? {
                println!("{day},{},{name}", if working { "workday" } else { "holiday" });
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { config } } => {
            let settings = Settings::load(config.as_deref())?;
            let key = keys::load_signing_key(&settings.resolve(&settings.keys.signing_key_file), false)?;
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            let mut conn = db.conn()?;
            match bdc_node::store::audit::verify(&mut conn, &key.public_key())? {
                Ok(r) => {
                    println!(
                        "audit log intact: {} records, {} signed checkpoints, {} records after the last checkpoint",
                        r.records, r.checkpoints, r.unsigned_tail
                    );
                    Ok(())
                }
                Err(b) => anyhow::bail!("audit log broken at record {}: {}", b.seq, b.reason),
            }
        }
        Command::Audit { command: AuditCommand::Export { config, format, from, to } } => {
            let settings = Settings::load(config.as_deref())?;
            let db = bdc_node::db::Db::open(&settings.database_url(), 1)?;
            let mut conn = db.conn()?;
            let filter = bdc_node::store::audit::Filter {
                from: from.map(|t| t.naive_utc()),
                to: to.map(|t| t.naive_utc()),
                limit: 100_000,
                ..Default::default()
            };
            let records = bdc_node::store::audit::query(&mut conn, &filter)?;
            match format.as_str() {
                "csv" => print!("{}", bdc_node::store::audit::to_csv(&records)),
                "json" => println!("{}", serde_json::to_string_pretty(&records)?),
                other => anyhow::bail!("unknown format {other}: csv or json"),
            }
            Ok(())
        }
        Command::VerifyCert { file, issuer_key } => {
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let package = bdc_node::domain::certificate_package::from_file(&bytes)
                .map_err(|why| anyhow::anyhow!("not a certificate package: {why}"))?;
            let pem = match issuer_key {
                Some(p) => std::fs::read_to_string(&p)?,
                None => package.issuer_public_key_pem.clone(),
            };
            let key = federation::crypto::PublicKey::from_spki_pem(&pem)?;
            let content = bdc_node::domain::certificate_package::check(&package, &key)
                .map_err(|why| anyhow::anyhow!("INVALID: {why}"))?;
            println!("VALID signature by key {} over {} ({})", key.key_id(), content.id, content.number);
            println!("issuer: {} ({}), issued on {}", content.issuer_name, content.issuer_division, content.issued_on);
            println!("status when downloaded: {:?} — ask any node's /verify for the current status", package.status);
            Ok(())
        }
        Command::Keygen { out, name } => {
            let (private, public, key_id) = keys::generate_pair(&out, &name)?;
            println!("SM2 private key: {}", private.display());
            println!("SM2 public key:  {}", public.display());
            println!("key id:          {key_id}");
            let data = out.join("data.key");
            if !data.exists() {
                keys::write_data_key(&data)?;
                println!("SM4 data key:    {}", data.display());
            }
            Ok(())
        }
        Command::Serve { config } => {
            let settings = Settings::load(config.as_deref())?;
            telemetry::init(&settings.log.filter, settings.log.json);
            runtime()?.block_on(async move {
                rustls_provider();
                let app = Application::build(settings).await?;
                let node = app.spawn();
                tracing::info!(url = %node.url, "bdc-node serving");
                wait_for_signal().await;
                tracing::info!("stopping");
                node.stop().await;
                Ok(())
            })
        }
        Command::Demo { base_port, data_dir } => {
            let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
            telemetry::init(&filter, false);
            runtime()?.block_on(async move {
                rustls_provider();
                demo::run(base_port, data_dir).await
            })
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

fn rustls_provider() {
    // One provider for the process (aws-lc-rs); an error means one is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

//! Building and running one node: keys, database, peers, HTTP server and delivery workers.
//! `Application::build` binds its listener (port 0 works) and can run several times in one
//! process.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use federation::backoff::Backoff;
use federation::client::PeerClient;
use federation::delivery::{DeliveryConfig, OutboxStore, run_peer_worker};
use federation::peers::{Directory, KnownKey, Peer, Relation};
use federation::router::Router;
use schemas::api::Mode;
use schemas::envelope::{Enrolment, EventBody};
use tokio::sync::{Notify, Semaphore, watch};

use crate::db::Db;
use crate::keys;
use crate::personal::Sealer;
use crate::settings::{PeerSettings, Settings};
use crate::state::AppState;
use crate::store;

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
    shutdown: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// A running node: its URL and a way to stop it.
pub struct RunningNode {
    pub url: String,
    pub port: u16,
    pub state: web::Data<AppState>,
    handle: ServerHandle,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningNode {
    /// Graceful stop: workers finish their round, the server drains connections.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

fn peer_from(settings: &Settings, p: &PeerSettings, relation: Relation) -> anyhow::Result<Peer> {
    let file = p.public_key_file.as_ref().map(|f| settings.resolve(f));
    let key = keys::load_public_key(p.public_key_pem.as_deref(), file.as_deref())
        .map_err(|e| anyhow::anyhow!("peer {}: {e}", p.node_id))?;
    Ok(Peer {
        node_id: p.node_id.clone(),
        division: p.division.clone(),
        url: p.url.trim_end_matches('/').to_owned(),
        relation,
        navigation: p.navigation,
        keys: vec![key],
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.http.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http.listen))?;
        let port = listener.local_addr()?.port();
        let resolve = |p: &std::path::Path| settings.resolve(p);
        let server_tls = crate::tls::server_config(&settings.tls, resolve)?;
        let client_tls = crate::tls::client_config(&settings.tls, resolve)?;
        let public_url = if settings.http.public_url.is_empty() {
            let ip = listener.local_addr()?.ip();
            let host = if ip.is_unspecified() { "127.0.0.1".to_owned() } else { ip.to_string() };
            let scheme = if server_tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{host}:{port}")
        } else {
            settings.http.public_url.trim_end_matches('/').to_owned()
        };
        let key = Arc::new(keys::load_signing_key(
            &settings.resolve(&settings.keys.signing_key_file),
            settings.keys.generate_if_missing,
        )?);
        let data_keys = keys::load_data_keyring(
            &settings.resolve(&settings.keys.data_key_file),
            settings.keys.generate_if_missing,
        )?;
        let db_url = settings.database_url();
        let pool_size = settings.database.pool_size;
        let db = tokio::task::spawn_blocking(move || Db::open(&db_url, pool_size)).await??;

        let mut peers = Vec::new();
        if let Some(p) = &settings.parent {
            peers.push(peer_from(&settings, p, Relation::Parent)?);
        }
        for c in &settings.children {
            peers.push(peer_from(&settings, c, Relation::Child)?);
        }
        let directory = Directory::new(peers);
        // The national office (000000) takes national-level applications only (they do not go
        // through the router): it is no office of last resort for every division.
        let router = Router::new(
            settings.offices.iter().filter(|o| !o.division.is_nation()).map(|o| o.division.clone()).collect(),
            directory
                .children()
                .filter_map(|c| c.navigation.map(|n| (c.division.clone(), c.node_id.clone(), n)))
                .collect(),
        );
        let mut http = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30));
        if let Some(config) = client_tls {
            http = http.use_preconfigured_tls(config);
        }
        let http = http.build()?;
        let me = settings.node_id.clone();
        let client = PeerClient::new(me.clone(), Arc::clone(&key), http);
        let wakers = directory.all().map(|p| (p.node_id.clone(), Arc::new(Notify::new()))).collect();
        if settings.sms.gateway == "file" {
            tracing::warn!(
                file = %settings.resolve(&settings.sms.file).display(),
                "SMS codes go to a development file sink, in clear: set [sms] gateway = \"http\" in production"
            );
        }
        for (what, url) in [("sms.url", &settings.sms.url), ("identity.provider_url", &settings.identity.provider_url)]
        {
            let loopback = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
            if url.starts_with("http://") && !loopback {
                tracing::warn!(
                    setting = what,
                    "plain HTTP to an outside service carries personal data unencrypted: use https://"
                );
            }
        }
        let state = web::Data::new(AppState {
            me,
            db,
            key,
            sealer: Sealer::from_keyring(&data_keys),
            directory,
            router,
            client,
            wakers,
            key_cache: RwLock::new(HashMap::new()),
            public_url,
            mutual_tls: server_tls.as_ref().is_some_and(|t| t.mutual),
            limiter: crate::http::limits::RateLimiter::new(settings.http.rate_limits),
            sms: crate::sms::SmsGateway::from_settings(&settings.sms, settings.resolve(&settings.sms.file))
                .map_err(anyhow::Error::msg)?,
            identity: match settings.identity.provider_url.as_str() {
                "" => None,
                url => Some(
                    crate::identity::IdentityProvider::new(
                        url,
                        std::time::Duration::from_millis(match settings.identity.timeout_ms {
                            0 => 3000,
                            ms => ms,
                        }),
                    )
                    .map_err(anyhow::Error::msg)?,
                ),
            },
            tlog: Default::default(),
            sth_cache: Default::default(),
            sessions: Default::default(),
            low_priority: crate::low_priority::LowPriority::start(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            )?,
            settings,
        });
        enrol_children(&state).await?;

        let max_body = state.settings.http.max_body_bytes;
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap(actix_web::middleware::from_fn(crate::http::request_context))
                .configure(crate::http::routes)
        })
        .workers(2)
        .shutdown_timeout(5)
        .disable_signals()
        .on_connect(|conn, ext| {
            // Keep the client certificate of a mutual-TLS connection for the federation handlers.
            if let Some(tls) =
                conn.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>>()
                && let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first())
            {
                ext.insert(crate::tls::PeerCertificate(cert.clone().into_owned()));
            }
        });
        let (shutdown, _) = watch::channel(false);
        let mut workers = Vec::new();
        let server = match server_tls {
            Some(tls) => {
                workers.push(tokio::spawn(crate::tls::watch(
                    tls.cert,
                    Duration::from_secs(state.settings.tls.reload_secs),
                    shutdown.subscribe(),
                )));
                server.listen_rustls_0_23(listener, tls.config)?
            }
            None => server.listen(listener)?,
        }
        .run();
        workers.extend(spawn_workers(&state, &shutdown));
        workers.push(tokio::spawn(audit_checkpoints(state.clone(), shutdown.subscribe())));
        workers.push(tokio::spawn(register_lapses(state.clone(), shutdown.subscribe())));
        workers.push(tokio::spawn(watch_data_keys(state.clone(), shutdown.subscribe())));
        if state.directory.children().next().is_some() {
            workers.push(tokio::spawn(crate::log_watch::run(state.clone(), shutdown.subscribe())));
        }
        Ok(Self { port, server, state, shutdown, workers })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Start serving in the background.
    pub fn spawn(self) -> RunningNode {
        let handle = self.server.handle();
        let url = self.state.public_url.clone();
        let workers = self.workers;
        let task = tokio::spawn(async move {
            let r = self.server.await;
            for w in workers {
                let _ = w.await;
            }
            r
        });
        RunningNode { url, port: self.port, state: self.state, handle, shutdown: self.shutdown, task }
    }
}

/// A province tells its parent about each configured child's key once, so the nation can check
/// the child's origin signatures when they are forwarded (DESIGN §3).
async fn enrol_children(state: &web::Data<AppState>) -> anyhow::Result<()> {
    if state.settings.mode == Mode::National || state.parent_id().is_none() {
        return Ok(());
    }
    let state = state.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let me = state.me.clone();
        let parent = state.parent_id().cloned();
        let division = state.settings.division.clone();
        let children: Vec<Peer> = state.directory.children().cloned().collect();
        state.db.write(|conn| -> anyhow::Result<()> {
            for child in &children {
                for key in &child.keys {
                    let known =
                        KnownKey { node_id: child.node_id.clone(), division: child.division.clone(), key: key.clone() };
                    if store::inbox::record_child_key(conn, &known)? {
                        let body = EventBody::Enrolment(Enrolment {
                            node_id: child.node_id.clone(),
                            division: child.division.clone(),
                            key_id: key.key_id(),
                            public_key_pem: key.to_spki_pem()?,
                        });
                        let emitter =
                            store::events::Emitter { me: &me, parent: parent.as_ref(), sealer: &state.sealer };
                        store::events::emit(conn, &emitter, &division, body, chrono::Utc::now())?;
                    }
                }
            }
            Ok(())
        })
    })
    .await??;
    Ok(())
}

fn spawn_workers(state: &web::Data<AppState>, shutdown: &watch::Sender<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let f = &state.settings.federation;
    let config = DeliveryConfig {
        batch_limit: f.batch_limit,
        backoff: Backoff { base: Duration::from_millis(f.retry_base_ms), cap: Duration::from_millis(f.retry_cap_ms) },
        timeout: Duration::from_millis(f.delivery_timeout_ms),
    };
    let permits = Arc::new(Semaphore::new(f.parallelism));
    let outbox: Arc<dyn OutboxStore> =
        Arc::new(store::outbox::DbOutbox { db: state.db.clone(), sealer: state.sealer.clone() });
    state
        .directory
        .all()
        .map(|peer| {
            let wake = state.wakers.get(&peer.node_id).cloned().unwrap_or_default();
            // Look for leftovers from before a restart at once.
            wake.notify_one();
            tokio::spawn(run_peer_worker(
                state.client.clone(),
                peer.clone(),
                Arc::clone(&outbox),
                wake,
                Arc::clone(&permits),
                config,
                shutdown.subscribe(),
            ))
        })
        .collect()
}

/// Sign the audit chain's head every few seconds when it moved, and once more at shutdown.
async fn audit_checkpoints(state: web::Data<AppState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stop = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(10)) => false,
            _ = shutdown.changed() => true,
        };
        let s = state.clone();
        let signed = tokio::task::spawn_blocking(move || {
            s.db.write(|c| store::audit::checkpoint(c, &s.key).map_err(crate::db::DbError::from))
        })
        .await;
        if !matches!(signed, Ok(Ok(_))) {
            tracing::error!("could not sign an audit checkpoint");
        }
        if stop {
            return;
        }
    }
}

/// Key rotation while serving: re-read the data keyring file now and then and take a changed one
/// (`bdc-node keys rotate-data` writes it, then re-encrypts once every node has it).
async fn watch_data_keys(state: web::Data<AppState>, mut shutdown: watch::Receiver<bool>) {
    let path = state.settings.resolve(&state.settings.keys.data_key_file);
    let every = Duration::from_secs(state.settings.keys.reload_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let Ok(ring) = keys::load_data_keyring(&path, false) else {
            tracing::error!(file = %path.display(), "cannot read the data keyring; keeping the keys in use");
            continue;
        };
        if ring.ids() == state.sealer.key_ids() {
            continue;
        }
        match state.sealer.reload(&ring) {
            Ok(()) => tracing::info!(current = %ring.current_id(), keys = ring.ids().len(), "data keys reloaded"),
            Err(why) => tracing::error!(%why, "data keyring not taken"),
        }
    }
}

/// 民法典 Arts. 220/221: once a minute, objections and advance notices whose time ran out become
/// history, and their 登记证明 are voided (the status change rolls up like any other).
async fn register_lapses(state: web::Data<AppState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let s = state.clone();
        let done = tokio::task::spawn_blocking(move || lapse_due(&s, chrono::Utc::now())).await;
        match done {
            Ok(Ok(n)) if n > 0 => tracing::info!(lapsed = n, "register restrictions lapsed by law"),
            Ok(Ok(_)) => {}
            _ => tracing::error!("could not lapse register restrictions"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Lapse what is due at `now` and report voided certificates upward; returns how many lapsed.
pub fn lapse_due(state: &AppState, now: chrono::DateTime<chrono::Utc>) -> Result<usize, String> {
    use schemas::envelope::{CertificateStatusEvent, EventBody};
    let emitter = store::events::Emitter { me: &state.me, parent: state.parent_id(), sealer: &state.sealer };
    let lapsed = state
        .db
        .write(|conn| {
            let lapsed = store::register::lapse(conn, now)?;
            for l in &lapsed {
                let Some(cert) = &l.certificate_id else { continue };
                let (Ok(id), Ok(office)) =
                    (schemas::ids::CertificateId::parse(cert), schemas::ids::DivisionCode::parse(&l.division))
                else {
                    continue;
                };
                let reason = l.reason.to_owned();
                let body = EventBody::CertificateStatus(CertificateStatusEvent {
                    id,
                    status: schemas::api::CertificateStatus::Void,
                    reason,
                });
                store::events::emit(conn, &emitter, &office, body, now)?;
            }
            Ok::<_, store::applications::AppError>(lapsed)
        })
        .map_err(|e| e.to_string())?;
    if !lapsed.is_empty() {
        state.wake_parent();
    }
    Ok(lapsed.len())
}

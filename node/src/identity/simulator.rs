//! A stand-in for the unified identity authentication platform (统一身份认证), behaving like a
//! CAS-style single sign-on service:
//!
//! - `GET /login?service=` — with a live SSO cookie, straight back to `service` with a fresh
//!   one-time ticket; otherwise a login form.
//! - `POST /login` (form: `username`, `password`, `service`) — sets the SSO cookie and sends the
//!   browser back with a ticket (`303`); a wrong password shows the form again (`401`).
//! - `GET /validate?ticket=&service=` — `{"ok": true, "user": {…}}` once per ticket, only for the
//!   service it was issued to and within 60 seconds; otherwise `{"ok": false, "error": …}`.
//! - `POST /_sim/mode` (`ok`, `fail`, `garbage`, `slow`) — what `/validate` does next: answer, fail
//!   with 503, answer something that is not JSON, or wait 10 s.
//!
//! Tickets and sessions live in memory. Not for production: it is the platform's role to know
//! people; this only lets a node be exercised end to end without it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use rand::RngCore;
use serde::Deserialize;

/// A person the simulated platform knows.
#[derive(Debug, Clone, Deserialize)]
pub struct SimUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, String>,
    tickets: HashMap<String, (String, String, Instant)>,
    mode: String,
}

#[derive(Clone)]
struct Sim {
    users: Arc<Vec<SimUser>>,
    inner: Arc<Mutex<Inner>>,
}

const COOKIE: &str = "idp_sso";

fn random() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

impl Sim {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn redirect_with_ticket(&self, username: &str, service: &str, status: actix_web::http::StatusCode) -> HttpResponse {
        let ticket = format!("ST-{}", random());
        self.lock().tickets.insert(ticket.clone(), (username.to_owned(), service.to_owned(), Instant::now()));
        let sep = if service.contains('?') { '&' } else { '?' };
        HttpResponse::build(status).insert_header(("location", format!("{service}{sep}ticket={ticket}"))).finish()
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    service: String,
}

fn form(service: &str, status: actix_web::http::StatusCode) -> HttpResponse {
    let service = quick_xml::escape::escape(service);
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><meta charset=utf-8><title>统一身份认证（模拟）</title><h1>统一身份认证（模拟）</h1>\
         <form method=post action=/login><input type=hidden name=service value=\"{service}\">\
         <label>用户名 <input name=username></label><label>密码 <input type=password name=password></label>\
         <button>登录</button></form>"
    ))
}

async fn login_page(req: HttpRequest, sim: web::Data<Sim>, q: web::Query<LoginQuery>) -> HttpResponse {
    let user = req.cookie(COOKIE).and_then(|c| sim.lock().sessions.get(c.value()).cloned());
    match user {
        Some(username) => sim.redirect_with_ticket(&username, &q.service, actix_web::http::StatusCode::FOUND),
        None => form(&q.service, actix_web::http::StatusCode::OK),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    service: String,
}

async fn login_post(sim: web::Data<Sim>, f: web::Form<LoginForm>) -> HttpResponse {
    let ok = sim.users.iter().any(|u| u.username == f.username && u.password == f.password);
    if !ok {
        return form(&f.service, actix_web::http::StatusCode::UNAUTHORIZED);
    }
    let session = random();
    sim.lock().sessions.insert(session.clone(), f.username.clone());
    let mut answer = sim.redirect_with_ticket(&f.username, &f.service, actix_web::http::StatusCode::SEE_OTHER);
    let cookie = actix_web::cookie::Cookie::build(COOKIE, session).path("/").http_only(true).finish();
    let _ = answer.add_cookie(&cookie);
    answer
}

#[derive(Deserialize)]
struct ValidateQuery {
    ticket: String,
    service: String,
}

async fn validate(sim: web::Data<Sim>, q: web::Query<ValidateQuery>) -> HttpResponse {
    let mode = sim.lock().mode.clone();
    match mode.as_str() {
        "fail" => return HttpResponse::ServiceUnavailable().finish(),
        "garbage" => return HttpResponse::Ok().content_type("text/html").body("<html>系统维护中</html>"),
        "slow" => tokio::time::sleep(Duration::from_secs(10)).await,
        _ => {}
    }
    let taken = sim.lock().tickets.remove(&q.ticket);
    let user = taken
        .filter(|(_, service, at)| *service == q.service && at.elapsed() < Duration::from_secs(60))
        .and_then(|(username, _, _)| sim.users.iter().find(|u| u.username == username).cloned());
    match user {
        Some(u) => HttpResponse::Ok().json(serde_json::json!({
            "ok": true,
            "user": {"name": u.name, "id_type": "id_card", "id_number": u.id_number, "phone": u.phone}
        })),
        None => HttpResponse::Ok().json(serde_json::json!({"ok": false, "error": "INVALID_TICKET"})),
    }
}

#[derive(Deserialize)]
struct Mode {
    mode: String,
}

async fn set_mode(sim: web::Data<Sim>, m: web::Json<Mode>) -> HttpResponse {
    sim.lock().mode = m.mode.clone();
    HttpResponse::NoContent().finish()
}

/// A running simulator: its base URL, and a handle that stops it.
pub struct Running {
    pub url: String,
    pub handle: actix_web::dev::ServerHandle,
}

/// Start the simulator on `listen` (port 0 picks one) with these users.
pub fn start(listen: &str, users: Vec<SimUser>) -> std::io::Result<Running> {
    let sim = Sim { users: Arc::new(users), inner: Arc::default() };
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(web::Data::new(sim.clone()))
            .route("/login", web::get().to(login_page))
            .route("/login", web::post().to(login_post))
            .route("/validate", web::get().to(validate))
            .route("/_sim/mode", web::post().to(set_mode))
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?;
    let addr = server.addrs().first().copied().ok_or_else(|| std::io::Error::other("no address bound"))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(Running { url: format!("http://{addr}"), handle })
}

//! Applicant accounts over HTTP: an SMS code to a phone, sign-up with it (a person by 公民身份号码,
//! an enterprise by 统一社会信用代码), sign-in with phone and password, and the account as its
//! owner sees it (masked). Every step that changes data, and every refusal, is audited.

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::api::{ApplicantLogin, ApplicantSession, ApplicantView, SignUpRequest, SmsCodeRequest, SmsCodeSent};
use schemas::error::ErrorCode;
use schemas::ids::IdType;

use super::error::parse_json;
use super::limits::{Class, client_ip};
use super::{ApiError, audit_event, blocking, request_id};
use crate::domain::applicant::{AccountKind, Purpose, check_password, new_code, parse_phone};
use crate::personal::{mask_id, mask_name, mask_phone};
use crate::state::AppState;
use crate::store::applicants::{self as store, NewApplicant, SignIn};
use crate::store::audit;

fn now() -> chrono::NaiveDateTime {
    crate::store::now()
}

async fn record(state: &web::Data<AppState>, req: &HttpRequest, actor: &str, action: &str, refused: Option<ErrorCode>) {
    let mut entry =
        audit::Entry::new(state.settings.division.as_str(), actor, audit::Kind::Applicant, action, &request_id(req));
    if let Some(code) = refused {
        entry = entry.refused(&code.as_str());
    }
    audit_event(state, entry).await;
}

/// `POST /api/v1/applicants/sms-code`
pub async fn sms_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(&req), Class::Sms)?;
    let ask: SmsCodeRequest = parse_json(&body)?;
    let phone = parse_phone(&ask.phone).map_err(ApiError::new)?;
    let purpose = Purpose::parse(&ask.purpose)
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "purpose 应为 sign_up 或 reset_password"))?;
    let sms = state.settings.sms.clone();
    let code = new_code();
    let index = store::phone_index(&state.sealer, &phone);
    let (db, index2, code2) = (state.db.clone(), index.clone(), code.clone());
    let stored = blocking(move || {
        db.write(|conn| Ok(store::put_code(conn, &index2, purpose, &code2, now(), sms.code_ttl_secs, sms.resend_secs)))
    })
    .await?;
    let actor = format!("phone:{}", mask_phone(&phone));
    if let Err(code) = stored {
        record(&state, &req, &actor, "sms_code", Some(code)).await;
        return Err(ApiError::new(code));
    }
    let text = purpose.message(&code, state.settings.sms.code_ttl_secs / 60);
    if let Err(e) = state.sms.send(&phone, &text).await {
        // Not sent: the code must not stay usable, and the applicant may ask again at once.
        let (db, index) = (state.db.clone(), index.clone());
        let dropped = blocking(move || {
            Ok(db.write(|conn| store::drop_code(conn, &index, purpose).map_err(crate::db::DbError::from))?)
        })
        .await;
        if let Err(e) = dropped {
            tracing::error!(error = %e.message, "could not forget an unsent SMS code");
        }
        tracing::warn!(gateway = state.sms.name(), error = %e, "SMS not sent");
        record(&state, &req, &actor, "sms_code", Some(ErrorCode::SmsUnavailable)).await;
        return Err(ApiError::with_message(
            ErrorCode::SmsUnavailable,
            format!("{}：{e}", ErrorCode::SmsUnavailable.message_zh()),
        ));
    }
    record(&state, &req, &actor, "sms_code", None).await;
    Ok(HttpResponse::Accepted().json(SmsCodeSent {
        phone: mask_phone(&phone),
        expires_in_secs: state.settings.sms.code_ttl_secs,
        resend_after_secs: state.settings.sms.resend_secs,
    }))
}

/// `POST /api/v1/applicants`: sign up with the SMS code.
pub async fn sign_up(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(&req), Class::Login)?;
    let ask: SignUpRequest = parse_json(&body)?;
    let phone = parse_phone(&ask.phone).map_err(ApiError::new)?;
    let kind = AccountKind::parse(&ask.kind)
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "kind 应为 person 或 enterprise"))?;
    let name = ask.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "姓名（名称）为空、过长或含控制字符"));
    }
    let id_number = kind.check_id(&ask.id_number).map_err(|(code, why)| ApiError::with_message(code, why))?;
    check_password(&ask.password).map_err(ApiError::new)?;
    if ask.code.len() > 12 {
        return Err(ApiError::new(ErrorCode::SmsCodeInvalid));
    }
    let hash = crate::store::staff::hash_password(&ask.password).map_err(ApiError::internal)?;
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let (phone2, code) = (phone.clone(), ask.code.clone());
    let created = blocking(move || {
        let index = store::phone_index(&sealer, &phone2);
        db.write(|conn| {
            if !store::take_code(conn, &index, Purpose::SignUp, &code, now())? {
                return Ok(Err(ErrorCode::SmsCodeInvalid));
            }
            let new = NewApplicant { phone: &phone2, kind, name: &name, id_number: &id_number, password_hash: &hash };
            Ok(store::create(conn, &sealer, &new, now()))
        })
    })
    .await?;
    let actor = format!("phone:{}", mask_phone(&phone));
    match created {
        Ok(id) => {
            record(&state, &req, &format!("applicant:{id}"), "sign_up", None).await;
            let view = me_view(&state, id).await?;
            Ok(HttpResponse::Created().json(view))
        }
        Err(code) => {
            // A wrong code was counted inside the write (a failed closure would roll it back), so
            // the refusal is an answer, not an error of the write.
            record(&state, &req, &actor, "sign_up", Some(code)).await;
            Err(ApiError::new(code))
        }
    }
}

/// `POST /api/v1/applicants/login`
pub async fn login(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(&req), Class::Login)?;
    let ask: ApplicantLogin = parse_json(&body)?;
    let phone = parse_phone(&ask.phone).map_err(|_| ApiError::new(ErrorCode::BadCredentials))?;
    if ask.password.len() > 256 {
        return Err(ApiError::new(ErrorCode::BadCredentials));
    }
    let (db, sealer, slow, phone2) =
        (state.db.clone(), state.sealer.clone(), state.low_priority.clone(), phone.clone());
    let outcome = blocking(move || match store::check_password(&db, &sealer, &slow, &phone2, &ask.password, now())? {
        SignIn::Ok(id) => {
            let token = db.write(|conn| store::open_session(conn, id, now()).map_err(crate::db::DbError::from))?;
            Ok(Ok((id, token)))
        }
        SignIn::BadCredentials => Ok(Err(ErrorCode::BadCredentials)),
        SignIn::Locked => Ok(Err(ErrorCode::AccountLocked)),
    })
    .await?;
    match outcome {
        Ok((id, token)) => {
            record(&state, &req, &format!("applicant:{id}"), "login", None).await;
            Ok(HttpResponse::Ok().json(ApplicantSession { token, expires_in_secs: store::SESSION_MINUTES * 60 }))
        }
        Err(code) => {
            record(&state, &req, &format!("phone:{}", mask_phone(&phone)), "login", Some(code)).await;
            Err(ApiError::new(code))
        }
    }
}

async fn me_view(state: &web::Data<AppState>, id: i64) -> Result<ApplicantView, ApiError> {
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let profile = blocking(move || {
        let mut conn = db.conn()?;
        store::profile(&mut conn, &sealer, id).map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    let id_type = profile.id_type.parse::<u8>().ok().and_then(IdType::from_code).unwrap_or(IdType::Other);
    Ok(ApplicantView {
        id: profile.id,
        kind: profile.kind.clone(),
        // An enterprise's name is not personal data; a person's is masked like everywhere else.
        name: if profile.kind == "enterprise" { profile.name } else { mask_name(&profile.name) },
        id_type,
        id_number: if profile.kind == "enterprise" { profile.id_number } else { mask_id(&profile.id_number) },
        phone: mask_phone(&profile.phone),
        real_name: profile.real_name,
    })
}

/// `GET /api/v1/applicants/me` with the applicant's bearer token.
pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    let db = state.db.clone();
    let id = blocking(move || {
        let mut conn = db.conn()?;
        store::session(&mut conn, &token, now()).map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    Ok(HttpResponse::Ok().json(me_view(&state, id).await?))
}

/// `GET /sso/login`: to the unified identity platform's login, coming back to `/sso/callback`.
pub async fn sso_login(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let provider = state
        .identity
        .as_ref()
        .ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "本节点未接入统一身份认证"))?;
    let service = format!("{}/sso/callback", state.public_url);
    Ok(HttpResponse::Found().insert_header(("location", provider.login_url(&service))).finish())
}

#[derive(Debug, serde::Deserialize)]
pub struct TicketQuery {
    pub ticket: Option<String>,
}

/// `GET /sso/callback?ticket=`: redeem the platform's ticket and open an applicant session (the
/// account found by ID number, or made, and marked 实名 verified).
pub async fn sso_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TicketQuery>,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(&req), Class::Login)?;
    let provider = state
        .identity
        .as_ref()
        .ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "本节点未接入统一身份认证"))?;
    let ticket = query.ticket.as_deref().filter(|t| !t.is_empty() && t.len() <= 256);
    let Some(ticket) = ticket else { return Err(ApiError::new(ErrorCode::IdentityTicketInvalid)) };
    let service = format!("{}/sso/callback", state.public_url);
    let who = match provider.validate(ticket, &service).await {
        Ok(who) => who,
        Err(e) => {
            let code = match e {
                crate::identity::IdentityError::InvalidTicket => ErrorCode::IdentityTicketInvalid,
                _ => ErrorCode::IdentityUnavailable,
            };
            tracing::warn!(error = %e, "unified identity sign-in failed");
            record(&state, &req, "sso", "sso_login", Some(code)).await;
            return Err(ApiError::with_message(code, format!("{}（{e}）", code.message_zh())));
        }
    };
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let outcome = blocking(move || {
        db.write(|conn| {
            Ok(match store::sign_in_verified(conn, &sealer, &who, now()) {
                Ok(id) => Ok((id, store::open_session(conn, id, now())?)),
                Err(code) => Err(code),
            })
        })
    })
    .await?;
    match outcome {
        Ok((id, token)) => {
            record(&state, &req, &format!("applicant:{id}"), "sso_login", None).await;
            Ok(HttpResponse::Ok().json(ApplicantSession { token, expires_in_secs: store::SESSION_MINUTES * 60 }))
        }
        Err(code) => {
            record(&state, &req, "sso", "sso_login", Some(code)).await;
            Err(ApiError::new(code))
        }
    }
}

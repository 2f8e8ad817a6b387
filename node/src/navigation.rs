//! Where an application goes: to an office hosted here, forwarded to a child (接口导航, with a
//! durable queue when the child cannot be reached), or a redirect with a signed token (链接导航).

use std::time::Duration;

use actix_web::web;
use chrono::Utc;
use federation::error::FederationError;
use federation::router::Route;
use federation::token::{self, NavigationClaims};
use schemas::api::{ApplicationAnswer, NavigateAnswer, NavigationMode, QueuedReceipt, SubmitApplication};
use schemas::divisions::Divisions;
use schemas::envelope::ForwardedApplication;
use schemas::error::{ErrorBody, ErrorCode};
use schemas::ids::{DivisionCode, NodeId};
use schemas::register::{Jurisdiction, RegistrationDetails};

use crate::domain::national::{self, competent_national_office};
use crate::domain::parties::{applicant_proofs, check_parties};
use crate::domain::register::{RegisterError, check_details, check_parties_for_kind};
use crate::http::{ApiError, blocking};
use crate::state::AppState;
use crate::store;
use crate::store::audit;

/// The office an application is for: the applicant's choice or the unit code's division, with
/// retired codes resolved. Unknown codes are refused.
pub fn target_division(request: &SubmitApplication) -> Result<DivisionCode, ApiError> {
    let divisions = Divisions::builtin();
    let unit_division = request.unit_code.division();
    // Old unit codes keep retired division codes: resolve them through the successor table.
    let resolved = divisions.resolve(&unit_division);
    if !divisions.is_known(&resolved) {
        return Err(ApiError::with_message(
            ErrorCode::UnknownDivision,
            format!("不动产单元代码前6位 {unit_division} 不是有效的县级行政区划代码（GB/T 2260）"),
        ));
    }
    if let Some(chosen) = &request.division {
        if !divisions.is_known(&divisions.resolve(chosen)) {
            return Err(ApiError::with_message(
                ErrorCode::UnknownDivision,
                format!("行政区划代码 {chosen} 不存在（GB/T 2260）"),
            ));
        }
        if divisions.resolve(chosen) != resolved {
            return Err(ApiError::with_message(
                ErrorCode::NotThisOffice,
                format!("所选登记机构 {chosen} 与不动产单元所在地 {resolved} 不一致"),
            ));
        }
    }
    Ok(resolved)
}

/// The office of a national-level application (国家层面登记) is the national office (`000000`)
/// whatever the unit's division; the unit's division must still be a GB/T 2260 code, and an
/// applicant's choice of office, if any, must be the national one.
pub fn national_target(request: &SubmitApplication, claim: Jurisdiction) -> Result<DivisionCode, ApiError> {
    let divisions = Divisions::builtin();
    let unit_division = request.unit_code.division();
    if !divisions.is_known(&divisions.resolve(&unit_division)) || unit_division.is_nation() {
        return Err(ApiError::with_message(
            ErrorCode::UnknownDivision,
            format!("不动产单元代码前6位 {unit_division} 不是有效的县级行政区划代码（GB/T 2260）"),
        ));
    }
    if let Some(chosen) = &request.division
        && !chosen.is_nation()
    {
        return Err(ApiError::with_message(
            ErrorCode::NotThisOffice,
            format!("{}，不能选择登记机构 {chosen}", competent_national_office(claim)),
        ));
    }
    Ok(DivisionCode::nation())
}

/// Where a national-level application goes from here: the national office when this node hosts
/// it; else upward to the parent by interface navigation (a county or a province passes it on
/// whatever the unit's division); a node with neither cannot take it.
fn national_route(state: &AppState) -> Route {
    let nation = DivisionCode::nation();
    if state.office(&nation).is_some() {
        Route::Local(nation)
    } else if let Some(parent) = state.parent_id() {
        Route::Child { node_id: parent.clone(), division: nation, navigation: NavigationMode::Interface }
    } else {
        Route::NotServed
    }
}

fn register_refusal(e: RegisterError) -> ApiError {
    let code = match e {
        RegisterError::Share(_) => ErrorCode::InvalidShare,
        _ => ErrorCode::InvalidField,
    };
    ApiError::with_message(code, e.to_string())
}

fn competent_office(division: &DivisionCode) -> String {
    Divisions::builtin()
        .full_name(division)
        .map(|n| format!("{n}不动产登记机构"))
        .unwrap_or_else(|| format!("行政区划 {division} 的不动产登记机构"))
}

/// Place an application received here (from an applicant; from the parent node; or, a
/// national-level one, from a child passing it up to the national office).
pub async fn place_application(
    state: &web::Data<AppState>,
    request: SubmitApplication,
    entry_node: NodeId,
    ticket: Option<String>,
    request_id: &str,
) -> Result<(ApplicationAnswer, u16), ApiError> {
    // Check everything first, at every level: bad input changes nothing anywhere.
    let parties = check_parties(&request.applicants).map_err(|e| ApiError::with_message(e.code, e.message))?;
    let mut request = request;
    let mut details =
        check_details(request.kind, &request.details.clone().unwrap_or_default()).map_err(register_refusal)?;
    let claim = details.jurisdiction;
    if let Some(claim) = claim {
        details = national::check_claim(claim, &request.unit_code, &details)
            .map_err(|e| ApiError::with_message(ErrorCode::NationalClaimInvalid, e.to_string()))?;
    }
    check_parties_for_kind(request.kind, &details, &parties).map_err(register_refusal)?;
    request.details = (details != RegistrationDetails::default()).then_some(details);
    if let Some(location) = &request.location
        && (location.chars().count() > 200 || location.chars().any(char::is_control))
    {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "坐落不能超过200字，且不能含控制字符"));
    }
    let (target, route) = match claim {
        Some(claim) => (national_target(&request, claim)?, national_route(state)),
        None => {
            let target = target_division(&request)?;
            let route = state.router.route(&target);
            (target, route)
        }
    };
    match route {
        Route::Local(office_division) => {
            // The national office takes national-level applications only, and only it takes them
            // (the router never offers it; this guards the rule where the write happens).
            if office_division.is_nation() != claim.is_some() {
                return Err(ApiError::with_message(
                    ErrorCode::NotThisOffice,
                    match claim {
                        Some(c) => competent_national_office(c),
                        None => format!(
                            "该不动产（行政区划 {target}）不属于本节点管辖，请向{}申请",
                            competent_office(&target)
                        ),
                    },
                ));
            }
            // The proofs cost a millisecond of CPU by design: below the writer in priority.
            let (parties, proofs) = state
                .low_priority
                .run(move || {
                    let proofs = applicant_proofs(&parties);
                    (parties, proofs)
                })
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let state2 = state.clone();
            let request_id = request_id.to_owned();
            let receipt = blocking(move || {
                let st = state2.clone();
                // Owned, so that it queues for the writer's turn (see `db::Db::write_owned`).
                let row = state2.db.write_owned(move |conn| {
                    let ctx = st
                        .office_ctx(&office_division)
                        .ok_or_else(|| ApiError::internal("routed to an office without settings"))?;
                    let row = store::applications::submit(
                        conn,
                        &ctx,
                        &request,
                        parties,
                        proofs,
                        &entry_node,
                        ticket.as_deref(),
                        Utc::now(),
                    )?;
                    let (actor, kind) = if entry_node == st.me {
                        ("applicant".to_owned(), audit::Kind::Applicant)
                    } else {
                        (format!("node:{entry_node}"), audit::Kind::Node)
                    };
                    audit::append(
                        conn,
                        &audit::Entry::new(&row.division, &actor, kind, "submit_application", &request_id)
                            .business(&row.business_no)
                            .detail(format!("kind={}", row.kind)),
                    )?;
                    Ok::<_, ApiError>(row)
                })?;
                Ok(store::applications::receipt(&row, &state2.me)?)
            })
            .await?;
            state.wake_parent();
            tracing::info!(business_no = %receipt.business_no, office = %receipt.office, "application received");
            Ok((ApplicationAnswer::Received(receipt), 200))
        }
        Route::Child { node_id, division, navigation: NavigationMode::Interface } => {
            forward(state, request, entry_node, ticket, request_id, node_id, division).await
        }
        Route::Child { node_id, division, navigation: NavigationMode::Link } => {
            let peer = state.directory.get(&node_id).ok_or_else(|| ApiError::internal("child without peer"))?;
            let expires_at = Utc::now() + chrono::Duration::seconds(state.settings.federation.token_ttl_secs);
            let claims = NavigationClaims {
                jti: ulid::Ulid::new().to_string(),
                iss: state.me.clone(),
                aud: node_id.clone(),
                office: target.clone(),
                unit_code: request.unit_code.clone(),
                kind: request.kind,
                entry_node,
                key_id: state.key.key_id(),
                exp: expires_at.timestamp(),
            };
            let token = token::issue(&state.key, &claims)?;
            tracing::info!(office = %division, child = %node_id, "link navigation");
            Ok((
                ApplicationAnswer::Navigate(NavigateAnswer {
                    navigate_to: format!("{}/navigate?token={token}", peer.url),
                    office: target,
                    expires_at,
                }),
                200,
            ))
        }
        Route::NotServed => {
            if let Some(c) = claim {
                return Err(ApiError::with_message(ErrorCode::NoRoute, competent_national_office(c)));
            }
            // The national office takes national-level applications only: it does not make this
            // node the office of anything else.
            let local = state.settings.offices.iter().any(|o| !o.division.is_nation());
            let code = if local { ErrorCode::NotThisOffice } else { ErrorCode::NoRoute };
            Err(ApiError::with_message(
                code,
                format!("该不动产（行政区划 {target}）不属于本节点管辖，请向{}申请", competent_office(&target)),
            ))
        }
    }
}

/// Interface navigation to the next node: down to a child, or (a national-level application) up
/// to the parent. `child` names that peer either way.
async fn forward(
    state: &web::Data<AppState>,
    request: SubmitApplication,
    entry_node: NodeId,
    ticket: Option<String>,
    request_id: &str,
    child: NodeId,
    division: DivisionCode,
) -> Result<(ApplicationAnswer, u16), ApiError> {
    let peer = state.directory.get(&child).ok_or_else(|| ApiError::internal("child without peer"))?;
    // A ticket names the application across retries, so the office keeps it once.
    let ticket = ticket.unwrap_or_else(|| ulid::Ulid::new().to_string());
    // A retried delivery of a ticket this node already handled gets the answer it got before.
    let (db, t) = (state.db.clone(), ticket.clone());
    let known = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::tickets::get(&mut conn, &t)?)
    })
    .await?;
    if let Some((office, _, answer)) = known {
        return Ok(match answer.as_deref().and_then(|a| serde_json::from_str::<ApplicationAnswer>(a).ok()) {
            Some(a @ ApplicationAnswer::Queued(_)) => (a, 202),
            Some(a) => (a, 200),
            None => (
                ApplicationAnswer::Queued(QueuedReceipt {
                    ticket,
                    office: DivisionCode::parse(&office)?,
                    queued_at_node: state.me.clone(),
                    queued_at: Utc::now(),
                }),
                202,
            ),
        });
    }
    let forwarded = ForwardedApplication { ticket: Some(ticket.clone()), entry_node, application: request };
    let timeout = Duration::from_millis(state.settings.federation.forward_timeout_ms);
    match state.client.send_application(peer, request_id, forwarded.clone(), timeout).await {
        Ok(answer) => {
            let (state2, t, d, a) = (state.clone(), ticket.clone(), division.to_string(), answer.clone());
            blocking(move || {
                state2.db.write(|conn| store::tickets::create(conn, &t, &d, Some(&a)).map_err(ApiError::from))
            })
            .await?;
            let status = if matches!(answer, ApplicationAnswer::Queued(_)) { 202 } else { 200 };
            Ok((answer, status))
        }
        Err(FederationError::PeerRefused { status, body }) if (400..500).contains(&status) && status != 401 => {
            // The office refused it (its own checks): pass its answer through unchanged.
            let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
            let mut err = match parsed {
                Some(b) => ApiError::with_message(b.error, b.message),
                None => ApiError::new(ErrorCode::InvalidRequest),
            };
            err.status = Some(status);
            Err(err)
        }
        Err(e) => {
            tracing::warn!(peer = %child, error = %e, "next node unreachable; application queued");
            let (state2, t, d) = (state.clone(), ticket.clone(), division.to_string());
            let child2 = child.clone();
            let rid = request_id.to_owned();
            blocking(move || {
                state2.db.write(|conn| {
                    store::tickets::create(conn, &t, &d, None)?;
                    store::outbox::queue_application(conn, &state2.sealer, &child2, &d, &forwarded)?;
                    audit::append(
                        conn,
                        &audit::Entry::new(
                            state2.settings.division.as_str(),
                            "system",
                            audit::Kind::Node,
                            "queue_application",
                            &rid,
                        )
                        .detail(format!("office={d} child={child2} ticket={t}")),
                    )?;
                    Ok::<_, ApiError>(())
                })
            })
            .await?;
            state.wake(&child);
            Ok((
                ApplicationAnswer::Queued(QueuedReceipt {
                    ticket,
                    office: division,
                    queued_at_node: state.me.clone(),
                    queued_at: Utc::now(),
                }),
                202,
            ))
        }
    }
}

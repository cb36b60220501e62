//! Sign-in, sign-out, who am I, password change, accounts, API tokens and the audit log. The
//! session is an HttpOnly, SameSite=Lax cookie (Secure when the portal is reached over HTTPS)
//! holding a random secret whose hash is stored server-side. Who may call what is decided in
//! front of these handlers, by the access layer.

use super::{
    access::{peer, session_secret, COOKIE},
    params::{json_body, parse_time, Params},
    state::RuntimeInfo,
    AppState,
};
use crate::{
    accounts::{Accounts, Principal},
    audit::{Audit, Event, Filter},
    error::ApiError,
};
use app::api::{
    accounts::{
        Account, ApiToken, CreateToken, CreatedToken, FolderGrants, FolderKind, FolderPermissions,
        NewAccount, PasswordChange, SaveTeam, SignIn, Team, UpdateAccount,
    },
    audit::AuditPage,
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, Extensions, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-in", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/me", get(me))
        .route("/api/auth/password", put(change_password))
        .route("/api/auth/users", get(users).post(create_user))
        .route(
            "/api/auth/users/{id}",
            get(user).put(update_user).delete(delete_user),
        )
        .route("/api/auth/tokens", get(tokens).post(create_token))
        .route("/api/auth/tokens/{id}", delete(revoke_token))
        .route("/api/audit", get(audit_log))
        .route("/api/auth/teams", get(teams).post(create_team))
        .route("/api/auth/teams/{id}", put(update_team).delete(delete_team))
        .route("/api/auth/folders", get(folders))
        .route(
            "/api/auth/folders/{kind}/{folder}",
            get(folder).put(put_folder),
        )
}

/// The signed-in person a handler acts for (the access layer let only people through).
fn person(who: &Principal) -> Result<&Account, ApiError> {
    who.account()
        .ok_or_else(|| ApiError::Forbidden("this needs a signed-in account, not a token".into()))
}

fn cookie(info: &RuntimeInfo, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if info.external_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

fn address(extensions: &Extensions) -> String {
    peer(extensions)
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

async fn sign_in(
    State(accounts): State<Accounts>,
    State(audit): State<Audit>,
    State(info): State<Arc<RuntimeInfo>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SignIn = json_body(&body)?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = address(&extensions);
    let outcome = accounts.sign_in(&request, &from, agent).await;
    let login: String = request.login.trim().chars().take(100).collect();
    audit
        .record(Event {
            actor: &login,
            address: &from,
            action: if outcome.is_ok() {
                "sign-in"
            } else {
                "sign-in failed"
            },
            target: &login,
            outcome: outcome
                .as_ref()
                .map_or_else(|e| e.status().as_u16(), |_| 200),
            before: None,
            after: None,
        })
        .await;
    let session = outcome?;
    let mut response = Json(session.account).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(
            &info,
            &session.secret,
            crate::accounts::SESSION_IDLE.num_seconds(),
        ),
    );
    Ok(response)
}

async fn sign_out(
    State(accounts): State<Accounts>,
    State(info): State<Arc<RuntimeInfo>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_secret(&headers) {
        accounts.sign_out(&secret).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&info, "", 0));
    Ok(response)
}

async fn me(who: Principal) -> Result<Json<Account>, ApiError> {
    Ok(Json(person(&who)?.clone()))
}

async fn change_password(
    State(accounts): State<Accounts>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let account = person(&who)?;
    let change: PasswordChange = json_body(&body)?;
    let secret = session_secret(&headers).unwrap_or_default();
    accounts
        .change_password(&account.login, &secret, &change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(State(accounts): State<Accounts>) -> Result<Json<Vec<Account>>, ApiError> {
    Ok(Json(accounts.accounts().await?))
}

async fn user(
    State(accounts): State<Accounts>,
    Path(id): Path<i64>,
) -> Result<Json<Account>, ApiError> {
    accounts
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no account {id}")))
}

async fn update_user(
    State(accounts): State<Accounts>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Account>, ApiError> {
    let change: UpdateAccount = json_body(&body)?;
    let (_, after) = accounts
        .update_account(id, &change.name, change.role)
        .await?;
    Ok(Json(after))
}

async fn delete_user(
    State(accounts): State<Accounts>,
    who: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if who.account().is_some_and(|a| a.id == id) {
        return Err(ApiError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    accounts.delete_account(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_user(
    State(accounts): State<Accounts>,
    body: Bytes,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let user: NewAccount = json_body(&body)?;
    let account = accounts
        .create_account(&user.login, &user.name, user.role, &user.password)
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

async fn tokens(State(accounts): State<Accounts>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(accounts.tokens().await?))
}

async fn create_token(
    State(accounts): State<Accounts>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let request: CreateToken = json_body(&body)?;
    let created = accounts.create_token(&request, &who.name()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke_token(
    State(accounts): State<Accounts>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    accounts.revoke_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn teams(State(accounts): State<Accounts>) -> Result<Json<Vec<Team>>, ApiError> {
    Ok(Json(accounts.teams().await?))
}

async fn create_team(
    State(accounts): State<Accounts>,
    body: Bytes,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    let team: SaveTeam = json_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(accounts.save_team(None, &team).await?),
    ))
}

async fn update_team(
    State(accounts): State<Accounts>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Team>, ApiError> {
    let team: SaveTeam = json_body(&body)?;
    Ok(Json(accounts.save_team(Some(id), &team).await?))
}

async fn delete_team(
    State(accounts): State<Accounts>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    accounts.delete_team(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn folders(
    State(accounts): State<Accounts>,
) -> Result<Json<Vec<FolderPermissions>>, ApiError> {
    Ok(Json(accounts.folder_permissions().await?))
}

fn folder_kind(kind: &str) -> Result<FolderKind, ApiError> {
    FolderKind::parse(kind).ok_or_else(|| ApiError::invalid("kind", "dashboards or rules"))
}

async fn folder(
    State(accounts): State<Accounts>,
    Path((kind, folder)): Path<(String, String)>,
) -> Result<Json<FolderPermissions>, ApiError> {
    let kind = folder_kind(&kind)?;
    let grants = accounts
        .folder_permissions()
        .await?
        .into_iter()
        .find(|f| f.kind == kind && f.folder == folder)
        .map(|f| f.grants)
        .unwrap_or_default();
    Ok(Json(FolderPermissions {
        kind,
        folder,
        grants,
    }))
}

async fn put_folder(
    State(accounts): State<Accounts>,
    Path((kind, folder)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<FolderPermissions>, ApiError> {
    let kind = folder_kind(&kind)?;
    let request: FolderGrants = json_body(&body)?;
    Ok(Json(
        accounts
            .set_folder_permissions(kind, &folder, &request.grants)
            .await?,
    ))
}

/// `GET /api/audit?actor=&q=&since=&before=&limit=`: newest first, a page at a time.
async fn audit_log(
    State(audit): State<Audit>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let params = Params::new(query, &[]);
    let number = |name: &'static str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid(name, "must be a whole number"))
            })
            .transpose()
    };
    let since = params
        .get("since")
        .filter(|v| !v.is_empty())
        .map(|v| parse_time(v).map_err(|e| ApiError::invalid("since", e)))
        .transpose()?;
    let filter = Filter {
        before_id: number("before")?,
        actor: params.get("actor").map(str::to_string),
        text: params.get("q").map(str::to_string),
        since,
        limit: number("limit")?,
    };
    Ok(Json(audit.list(&filter).await?))
}

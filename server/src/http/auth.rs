//! Sign-in, sign-out, who am I, password change, accounts and API tokens. The session is an
//! HttpOnly, SameSite=Lax cookie (Secure when the portal is reached over HTTPS) holding a
//! random secret whose hash is stored server-side.

use super::{params::json_body, state::RuntimeInfo, AppState};
use crate::{accounts::Accounts, error::ApiError};
use app::api::accounts::{
    Account, ApiToken, CreateToken, CreatedToken, PasswordChange, Role, SignIn,
};
use axum::{
    body::Bytes,
    extract::{connect_info::ConnectInfo, FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use std::{net::SocketAddr, sync::Arc};

pub const COOKIE: &str = "portal_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-in", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/me", get(me))
        .route("/api/auth/password", put(change_password))
        .route("/api/auth/users", get(users).post(create_user))
        .route("/api/auth/tokens", get(tokens).post(create_token))
        .route("/api/auth/tokens/{id}", delete(revoke_token))
}

/// The session secret a request carries in its cookie.
fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The signed-in account and its session secret; 401 without one.
pub struct SignedIn {
    pub account: Account,
    pub secret: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || ApiError::Unauthorized("sign in first".into());
        let secret = session_secret(&parts.headers).ok_or_else(unauthorized)?;
        let account = state
            .accounts
            .session(&secret)
            .await?
            .ok_or_else(unauthorized)?;
        Ok(Self { account, secret })
    }
}

fn require(account: &Account, role: Role) -> Result<(), ApiError> {
    if account.role >= role {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "this needs the {} role; you are {}",
            role.as_str(),
            account.role.as_str()
        )))
    }
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

fn address(connection: Option<&ConnectInfo<SocketAddr>>) -> String {
    connection.map(|c| c.0.ip().to_string()).unwrap_or_default()
}

async fn sign_in(
    State(accounts): State<Accounts>,
    State(info): State<Arc<RuntimeInfo>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SignIn = json_body(&body)?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let session = accounts
        .sign_in(
            &request,
            &address(extensions.get::<ConnectInfo<SocketAddr>>()),
            agent,
        )
        .await?;
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

async fn me(signed: SignedIn) -> Json<Account> {
    Json(signed.account)
}

async fn change_password(
    State(accounts): State<Accounts>,
    signed: SignedIn,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let change: PasswordChange = json_body(&body)?;
    accounts
        .change_password(&signed.account.login, &signed.secret, &change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct NewUser {
    login: String,
    #[serde(default)]
    name: String,
    role: Role,
    password: String,
}

async fn users(
    State(accounts): State<Accounts>,
    signed: SignedIn,
) -> Result<Json<Vec<Account>>, ApiError> {
    require(&signed.account, Role::Admin)?;
    Ok(Json(accounts.accounts().await?))
}

async fn create_user(
    State(accounts): State<Accounts>,
    signed: SignedIn,
    body: Bytes,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    require(&signed.account, Role::Admin)?;
    let user: NewUser = json_body(&body)?;
    let account = accounts
        .create_account(&user.login, &user.name, user.role, &user.password)
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

async fn tokens(
    State(accounts): State<Accounts>,
    signed: SignedIn,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    require(&signed.account, Role::Admin)?;
    Ok(Json(accounts.tokens().await?))
}

async fn create_token(
    State(accounts): State<Accounts>,
    signed: SignedIn,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    require(&signed.account, Role::Admin)?;
    let request: CreateToken = json_body(&body)?;
    let created = accounts
        .create_token(&request, &signed.account.login)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke_token(
    State(accounts): State<Accounts>,
    signed: SignedIn,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    require(&signed.account, Role::Admin)?;
    accounts.revoke_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Accounts: the first start makes `admin` with a password shown once and kept in a private
//! file; sign-in opens a server-side session in an HttpOnly cookie, says the same whatever was
//! wrong, and slows down repeated failures; passwords change with the current one; admins make
//! accounts and API tokens (shown once, listed without their secret, revocable).

use crate::helpers::{spawn_app, TestApp};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;

/// Sends `body` with an optional session cookie; status, answer and any Set-Cookie.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut request = app.anonymous.request(method, app.url(path));
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        set_cookie,
    )
}

/// Signs in; the cookie to send back.
async fn sign_in(app: &TestApp, login: &str, password: &str) -> String {
    let (status, body, cookie) = call(
        app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": login, "password": password}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    cookie.unwrap().split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_first_admin_signs_in_changes_the_password_and_signs_out() {
    let app = spawn_app().await;
    let (password, file) = app.first_admin.clone().expect("the first start made admin");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), password);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(password.len() >= 20);

    let (status, _, cookie) = call(
        &app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": "admin", "password": password}),
    )
    .await;
    assert_eq!(status, 200);
    let cookie_text = cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie_text.contains(attribute), "{cookie_text}");
    }
    let session = cookie_text.split(';').next().unwrap().to_string();
    let (status, me, _) = call(
        &app,
        Method::GET,
        "/api/auth/me",
        Some(&session),
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, me["login"].as_str(), me["role"].as_str()),
        (StatusCode::OK, Some("admin"), Some("admin"))
    );
    let (status, _, _) = call(&app, Method::GET, "/api/auth/me", None, Value::Null).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/auth/me",
        Some("portal_session=ps_forged"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 401);

    // A second session, closed by the password change; the one changing it stays open.
    let other = sign_in(&app, "admin", &password).await;
    for (change, field) in [
        (json!({"current": password, "new": "short"}), "new"),
        (
            json!({"current": "not it at all", "new": "a brand new passphrase"}),
            "current",
        ),
    ] {
        let (status, body, _) = call(
            &app,
            Method::PUT,
            "/api/auth/password",
            Some(&session),
            change,
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field))
        );
    }
    let (status, _, _) = call(
        &app,
        Method::PUT,
        "/api/auth/password",
        Some(&session),
        json!({"current": password, "new": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/auth/me",
        Some(&session),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&app, Method::GET, "/api/auth/me", Some(&other), Value::Null).await;
    assert_eq!(status, 401, "other sessions end with the old password");
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": "admin", "password": password}),
    )
    .await;
    assert_eq!(status, 401);
    sign_in(&app, "admin", "a brand new passphrase").await;

    let (status, _, cleared) = call(
        &app,
        Method::POST,
        "/api/auth/sign-out",
        Some(&session),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/auth/me",
        Some(&session),
        Value::Null,
    )
    .await;
    assert_eq!(status, 401, "a signed-out session is gone server-side");
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_say_the_same_and_are_slowed_down() {
    // The throttle is each replica's own (see accounts/throttle.rs).
    let app = crate::helpers::spawn_one_app().await;
    let (password, _) = app.first_admin.clone().unwrap();
    let (_, unknown, _) = call(
        &app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": "nobody", "password": "whatever it is"}),
    )
    .await;
    let (status, wrong, _) = call(
        &app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": "admin", "password": "whatever it is"}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(unknown, wrong, "no telling which logins exist");
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/auth/sign-in",
        None,
        json!({"login": "admin", "password": "x".repeat(100_000)}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    for _ in 0..3 {
        call(
            &app,
            Method::POST,
            "/api/auth/sign-in",
            None,
            json!({"login": "admin", "password": "guess"}),
        )
        .await;
    }
    // Five failures: now even the right password waits, with Retry-After.
    let response = app
        .anonymous
        .post(app.url("/api/auth/sign-in"))
        .json(&json!({"login": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    sign_in(&app, "admin", &password).await;
    app.stop().await;
}

/// Sign-ins sent all at once count before any password is checked: of twenty racing guesses,
/// only the five free ones reach a password check (answered 401, or 503 with Retry-After when
/// more hashes than the bound would run at once); the other fifteen are refused 429.
#[tokio::test]
async fn racing_sign_ins_all_count_and_hashing_is_bounded() {
    let app = crate::helpers::spawn_one_app().await;
    let attempts = (0..20).map(|i| {
        app.anonymous
            .post(app.url("/api/auth/sign-in"))
            .json(&json!({"login": "admin", "password": format!("guess number {i}")}))
            .send()
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for answer in answers {
        let answer = answer.unwrap();
        let status = answer.status().as_u16();
        if status == 503 || status == 429 {
            assert!(answer.headers().contains_key(header::RETRY_AFTER));
        }
        *by_status.entry(status).or_default() += 1;
    }
    let checked =
        by_status.get(&401).copied().unwrap_or(0) + by_status.get(&503).copied().unwrap_or(0);
    assert_eq!(checked, 5, "{by_status:?}");
    assert_eq!(by_status.get(&429).copied(), Some(15), "{by_status:?}");
    app.stop().await;
}

#[tokio::test]
async fn admins_make_accounts_and_tokens_that_viewers_cannot() {
    let app = spawn_app().await;
    let (password, _) = app.first_admin.clone().unwrap();
    let admin = sign_in(&app, "admin", &password).await;
    let (status, viewer, _) = call(&app, Method::POST, "/api/auth/users", Some(&admin),
        json!({"login": "vera", "name": "Vera", "role": "viewer", "password": "vera's long password"})).await;
    assert_eq!(status, 201, "{viewer}");
    assert!(viewer.get("password_hash").is_none());
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/auth/users",
        Some(&admin),
        json!({"login": "vera", "role": "editor", "password": "another long password"}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/auth/users",
        Some(&admin),
        json!({"login": "bad login!", "role": "editor", "password": "another long password"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("login"))
    );

    let vera = sign_in(&app, "vera", "vera's long password").await;
    for (method, path) in [
        (Method::GET, "/api/auth/tokens"),
        (Method::GET, "/api/auth/users"),
    ] {
        let (status, _, _) = call(&app, method, path, Some(&vera), Value::Null).await;
        assert_eq!(status, 403);
    }
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/auth/tokens",
        Some(&vera),
        json!({"name": "mine", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(status, 403);

    let (status, created, _) = call(
        &app,
        Method::POST,
        "/api/auth/tokens",
        Some(&admin),
        json!({"name": "prometheus-remote-write", "scopes": ["ingest", "ingest"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("pt_") && secret.len() > 40);
    assert_eq!(created["token"]["scopes"], json!(["ingest"]));
    let (_, listed, _) = call(
        &app,
        Method::GET,
        "/api/auth/tokens",
        Some(&admin),
        Value::Null,
    )
    .await;
    assert!(
        !listed.to_string().contains(secret),
        "the secret is shown once"
    );
    assert_eq!(listed[0]["created_by"], "admin");
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/auth/tokens",
        Some(&admin),
        json!({"name": "late", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("expires_at"))
    );
    let id = created["token"]["id"].as_i64().unwrap();
    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/tokens/{id}"),
        Some(&admin),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/tokens/{id}"),
        Some(&admin),
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

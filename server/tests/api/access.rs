//! Access: every route has a decision, and the decisions hold for anonymous callers, each role
//! and each token scope; tokens come as bearer or basic credentials and stop working when
//! revoked or expired; sessions end; cross-site requests with a cookie are refused; a trusted
//! proxy can name the user; every change and sign-in lands in the audit log.

use crate::helpers::{fresh_database, make_token, spawn_app, spawn_app_on, TestApp};
use app::api::accounts::{Role, Scope};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use server::http::access::{page_access, Access, ROUTES};
use std::collections::BTreeSet;

/// `(method, route)` of every `.route(…)` call in the HTTP module's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = crate::helpers::manifest_dir().join("src/http");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call runs to its closing parenthesis.
            let (mut depth, mut end) = (1, 0);
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let call = &rest[..end];
            let path = call.split('"').nth(1).expect("a route's path is a literal");
            let after_path = &call[call.find(path).unwrap() + path.len() + 1..];
            for method in ["get", "post", "put", "delete", "patch", "any"] {
                let needle = format!("{method}(");
                let mut from = 0;
                while let Some(i) = after_path[from..].find(&needle) {
                    let start = from + i;
                    let before = after_path[..start].chars().last();
                    // `get(` on its own or `.get(`/`::get(` in a chain, not `target(`.
                    if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
                        let m = if method == "any" {
                            "*".to_string()
                        } else {
                            method.to_uppercase()
                        };
                        found.insert((m, path.to_string()));
                    }
                    from = start + needle.len();
                }
            }
        }
    }
    found
}

#[test]
fn every_route_in_the_source_has_exactly_one_decision() {
    let source = routes_in_source();
    assert!(source.len() > 80, "the parser finds the routes: {source:?}");
    let decided: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, r, _)| (m.to_string(), r.to_string()))
        .collect();
    let undecided: Vec<_> = source.difference(&decided).collect();
    assert!(
        undecided.is_empty(),
        "routes without an access decision in http::access::ROUTES: {undecided:?}"
    );
    let stale: Vec<_> = decided.difference(&source).collect();
    assert!(
        stale.is_empty(),
        "decisions for routes that do not exist: {stale:?}"
    );
    assert_eq!(decided.len(), ROUTES.len(), "one decision per route");
}

/// Who calls: how to send a request as them, and what they are.
struct Caller {
    name: &'static str,
    auth: Option<(header::HeaderName, String)>,
    role: Option<Role>,
    scope: Option<Scope>,
}

/// Who the README promises each route to ("Accounts and access", the API tables), written out
/// here by hand and not from `http::access::ROUTES`, so that a wrong decision in that table
/// fails this test instead of being applied faithfully. `None`: a route nobody wrote a promise
/// for yet, which fails the test too.
fn promised(method: &str, route: &str) -> Option<Promise> {
    use Promise::*;
    let admin_reads = [
        "/api/auth/users",
        "/api/auth/users/{id}",
        "/api/auth/tokens",
        "/api/audit",
        "/api/auth/teams",
        "/api/auth/folders",
        "/api/auth/folders/{kind}/{folder}",
    ];
    let reads_by_post = [
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/variables/options",
        "/api/alerting/preview",
        "/api/alerting/policy/route",
        "/api/alerting/silences/preview",
        "/api/alerting/silences/matching",
        "/api/alerting/silences/occurrences",
        "/loki/api/v1/query",
        "/loki/api/v1/query_range",
        "/loki/api/v1/labels",
        "/loki/api/v1/series",
    ];
    Some(match (method, route) {
        // Open: health, metrics, the UI's files, public links and the images notifications link
        // to, signing in and out, and the 404 of an API path that does not exist.
        (_, "/healthz" | "/readyz" | "/metrics" | "/pkg/{*path}" | "/api/{*rest}") => Anyone,
        (_, "/api/auth/sign-in" | "/api/auth/sign-out") => Anyone,
        (_, r) if r.starts_with("/api/public/") || r.starts_with("/api/alerting/images/") => Anyone,
        ("GET", "/s/{code}") => AnySession,
        // Who am I and my password: a person, not a token.
        (_, "/api/auth/me" | "/api/auth/password") => Person,
        // A person's own marks: any person, or an admin token ("everything").
        (_, "/api/dashboards/{uid}/star" | "/api/short-links") => PersonOrAdminToken,
        // Data in: the ingest scope, or an Editor.
        ("POST", "/api/v1/write" | "/v1/metrics" | "/v1/logs" | "/loki/api/v1/push") => {
            EditorOrIngest
        }
        ("POST", "/api/logs/lines") => EditorOrIngest,
        // Alertmanager's v2 API: reads for any account and the read and alertmanager scopes,
        // silences for Editors and the alertmanager scope, alerts from Prometheus also with
        // the ingest scope.
        ("GET", r) if r.starts_with("/api/v2/") => ViewerOrReadOrAlertmanager,
        ("POST", "/api/v2/alerts") => EditorOrAlertmanagerOrIngest,
        (_, r) if r.starts_with("/api/v2/") => EditorOrAlertmanager,
        // The administration: accounts, teams, grants, tokens, the audit log, contact points
        // and the routing tree.
        ("GET", r) if admin_reads.contains(&r) => Admin,
        (_, r) if r.starts_with("/api/auth/") => Admin,
        (_, r) if r.starts_with("/api/alerting/contact-points") && method != "GET" => Admin,
        ("PUT", "/api/alerting/policy") => Admin,
        // Reading everything else (by GET, or queries sent by POST): any account, the read
        // scope.
        ("GET", _) => ViewerOrRead,
        ("POST", r) if reads_by_post.contains(&r) => ViewerOrRead,
        // Changing dashboards, alert rules, silences, inhibition, the home dashboard, an error
        // group's status and saved log searches: an Editor.
        (_, r)
            if r.starts_with("/api/dashboards")
                || r.starts_with("/api/alerting/")
                || r == "/api/preferences/home"
                || r == "/api/logs/errors/{fingerprint}"
                || r.starts_with("/api/logs/saved-searches") =>
        {
            Editor
        }
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug)]
enum Promise {
    Anyone,
    AnySession,
    Person,
    PersonOrAdminToken,
    EditorOrIngest,
    ViewerOrRead,
    Editor,
    Admin,
    ViewerOrReadOrAlertmanager,
    EditorOrAlertmanager,
    EditorOrAlertmanagerOrIngest,
}

/// Whether `caller` may use a route promised as `promise`. An admin token is "everything".
fn keeps(promise: Promise, caller: &Caller) -> bool {
    use Promise::*;
    let at_least = |role: Role| caller.role.is_some_and(|r| r >= role);
    let token = |scopes: &[Scope]| {
        caller
            .scope
            .is_some_and(|s| s == Scope::Admin || scopes.contains(&s))
    };
    match promise {
        Anyone => true,
        AnySession => caller.auth.is_some(),
        Person => caller.role.is_some(),
        PersonOrAdminToken => caller.role.is_some() || token(&[]),
        EditorOrIngest => at_least(Role::Editor) || token(&[Scope::Ingest]),
        ViewerOrRead => at_least(Role::Viewer) || token(&[Scope::Read]),
        Editor => at_least(Role::Editor) || token(&[]),
        Admin => at_least(Role::Admin) || token(&[]),
        ViewerOrReadOrAlertmanager => {
            at_least(Role::Viewer) || token(&[Scope::Read, Scope::Alertmanager])
        }
        EditorOrAlertmanager => at_least(Role::Editor) || token(&[Scope::Alertmanager]),
        EditorOrAlertmanagerOrIngest => {
            at_least(Role::Editor) || token(&[Scope::Alertmanager, Scope::Ingest])
        }
    }
}

/// What `ROUTES` decides for `caller`, to name the disagreement when there is one.
fn expected(access: Access, caller: &Caller) -> bool {
    let person = |role: Role| caller.role.is_some_and(|r| r >= role);
    let scope = |s: Scope| caller.scope == Some(s) || caller.scope == Some(Scope::Admin);
    match access {
        Access::Open | Access::PortalMetrics => true,
        Access::Page => caller.auth.is_some(),
        Access::SignedIn => caller.role.is_some(),
        Access::Personal => caller.role.is_some() || scope(Scope::Admin),
        Access::Ingest => person(Role::Editor) || scope(Scope::Ingest),
        Access::Read => person(Role::Viewer) || scope(Scope::Read),
        Access::Edit => person(Role::Editor) || scope(Scope::Admin),
        Access::Admin => person(Role::Admin) || scope(Scope::Admin),
        Access::AlertsRead => {
            person(Role::Viewer) || scope(Scope::Read) || scope(Scope::Alertmanager)
        }
        Access::AlertsWrite => person(Role::Editor) || scope(Scope::Alertmanager),
        Access::AlertsSend => {
            person(Role::Editor) || scope(Scope::Alertmanager) || scope(Scope::Ingest)
        }
    }
}

/// A concrete path for a route: parameters filled with values that name nothing.
fn concrete(route: &str) -> String {
    route
        .replace("{*rest}", "nowhere")
        .replace("{uid}", "matrix-none")
        .replace("{id}", "999999")
        .replace("{token}", "no-such-link")
        .replace("{file}", "1.png")
        .replace("{name}", "nothing")
        .replace("{folder}", "none")
        .replace("{version}", "1")
        .replace("{index}", "0")
        .replace("{code}", "zzzz")
        .replace("{kind}", "dashboards")
}

/// Makes an account with `role` and signs it in; the cookie to send.
async fn account_cookie(app: &TestApp, login: &str, role: Role) -> String {
    let accounts = server::accounts::Accounts::new(app.db.clone());
    let password = format!("{login}'s long password");
    accounts
        .create_account(login, "", role, &password)
        .await
        .unwrap();
    sign_in_cookie(app, login).await
}

/// Signs an account made by [`account_cookie`] in again.
async fn sign_in_cookie(app: &TestApp, login: &str) -> String {
    let response = app
        .anonymous
        .post(app.url("/api/auth/sign-in"))
        .json(&json!({"login": login, "password": format!("{login}'s long password")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// A request without the test token, carrying one header (a cookie, a proxy's user header).
fn with(
    app: &TestApp,
    method: Method,
    path: &str,
    name: &str,
    value: &str,
) -> reqwest::RequestBuilder {
    app.anonymous
        .request(method, app.url(path))
        .header(name, value)
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let mut callers = vec![Caller {
        name: "anonymous",
        auth: None,
        role: None,
        scope: None,
    }];
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("editor", Role::Editor),
        ("admin", Role::Admin),
    ] {
        let login = format!("matrix-{name}");
        callers.push(Caller {
            name,
            auth: Some((header::COOKIE, account_cookie(app, &login, role).await)),
            role: Some(role),
            scope: None,
        });
    }
    for (name, scope) in [
        ("ingest token", Scope::Ingest),
        ("read token", Scope::Read),
        ("alertmanager token", Scope::Alertmanager),
        ("admin token", Scope::Admin),
    ] {
        let secret = make_token(&app.db, name, &[scope]).await;
        callers.push(Caller {
            name,
            auth: Some((header::AUTHORIZATION, format!("Bearer {secret}"))),
            role: None,
            scope: Some(scope),
        });
    }
    callers
}

async fn call(app: &TestApp, method: &Method, path: &str, caller: &Caller) -> reqwest::Response {
    let mut request = app.anonymous.request(method.clone(), app.url(path));
    if let Some((name, value)) = &caller.auth {
        request = request.header(name, value);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_route_role_matrix_holds_for_every_caller() {
    let app = spawn_app().await;
    let callers = callers(&app).await;
    // Every page of the UI asks for a session, but the sign-in page and public links.
    let anonymous = &callers[0];
    let viewer = &callers[1];
    let pages = leptos_axum::generate_route_list(app::App);
    assert!(pages.len() > 10);
    for page in pages {
        let path = page
            .path()
            .split('/')
            .map(|part| if part.starts_with(':') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let path = if path.is_empty() { "/".into() } else { path };
        let response = call(&app, &Method::GET, &path, anonymous).await;
        if page_access(&path) == Access::Open {
            assert_eq!(response.status(), 200, "{path} is open");
        } else {
            assert_eq!(response.status(), 303, "{path} asks for a session");
            let signed = call(&app, &Method::GET, &path, viewer).await;
            assert_eq!(signed.status(), 200, "{path} as a viewer");
        }
    }
    // Signing out ends the caller's session: it goes last.
    let mut routes: Vec<_> = ROUTES.to_vec();
    routes.sort_by_key(|(_, r, _)| *r == "/api/auth/sign-out");
    let mut wrong = Vec::new();
    for (method, route, access) in routes {
        let Some(promise) = promised(method, route) else {
            wrong.push(format!(
                "{method} {route}: no promise written for it in this test (from the README)"
            ));
            continue;
        };
        let method = if method == "*" {
            Method::GET
        } else {
            method.parse().unwrap()
        };
        let path = concrete(route);
        for caller in &callers {
            let response = call(&app, &method, &path, caller).await;
            let status = response.status();
            let allowed = keeps(promise, caller);
            if allowed != expected(access, caller) {
                wrong.push(format!(
                    "{method} {route} as {}: the table says {access:?}, the README {promise:?}",
                    caller.name
                ));
            }
            let ok = match (allowed, caller.auth.is_some(), access) {
                (true, _, _) => {
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
                }
                (false, false, Access::Page) => {
                    status == StatusCode::SEE_OTHER
                        && response.headers()[header::LOCATION]
                            .to_str()
                            .unwrap()
                            .starts_with("/sign-in?next=")
                }
                (false, false, _) => {
                    status == StatusCode::UNAUTHORIZED
                        && response.headers().contains_key(header::WWW_AUTHENTICATE)
                }
                (false, true, _) => status == StatusCode::FORBIDDEN,
            };
            if !ok {
                wrong.push(format!(
                    "{method} {path} as {}: {status} (allowed: {allowed})",
                    caller.name
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    app.stop().await;
}

#[tokio::test]
async fn tokens_work_as_bearer_and_basic_until_revoked_or_expired() {
    let app = spawn_app().await;
    let token = make_token(&app.db, "grafana", &[Scope::Read]).await;
    let query = app.url("/api/v1/query?query=vector(1)");
    let bearer = app
        .anonymous
        .get(&query)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let basic = app
        .anonymous
        .get(&query)
        .basic_auth("grafana", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from api_token where name = 'grafana'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(used.is_some(), "the last use is shown");

    for (auth, why) in [
        ("Bearer pt_0000".to_string(), "unknown"),
        ("Digest abc".to_string(), "neither"),
        (format!("Bearer {}", "x".repeat(5_000)), "longer"),
    ] {
        let r = app
            .anonymous
            .get(&query)
            .header(header::AUTHORIZATION, auth)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
        assert!(status == 401 || status == 431, "{status}");
    }

    // A token made to expire in two seconds works, then does not.
    let made: Value = app
        .client
        .post(app.url("/api/auth/tokens"))
        .json(&json!({"name": "brief", "scopes": ["read"],
            "expires_at": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let brief = made["secret"].as_str().unwrap();
    let r = app
        .anonymous
        .get(&query)
        .bearer_auth(brief)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let expired = app
        .anonymous
        .get(&query)
        .bearer_auth(brief)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);

    let other = make_token(&app.db, "shipper", &[Scope::Ingest]).await;
    let id: i64 = sqlx::query_scalar("select id from api_token where name = 'shipper'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/api/auth/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let revoked = app
        .anonymous
        .post(app.url("/api/v1/write"))
        .bearer_auth(&other)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_and_cross_site_requests_with_a_cookie_are_refused() {
    let app = spawn_app().await;
    let cookie = account_cookie(&app, "ed", Role::Editor).await;
    let dashboard = json!({"dashboard": {"title": "Mine", "panels": []}});
    let post = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut r = app
            .anonymous
            .post(app.url("/api/dashboards"))
            .header(header::COOKIE, &cookie)
            .json(&dashboard);
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        if let Some(s) = fetch_site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    let forged = post(Some("https://evil.example"), Some("cross-site"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body: Value = forged.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cross-site"));
    let no_origin_cross = post(None, Some("cross-site")).await.unwrap();
    assert_eq!(no_origin_cross.status(), 403);
    let own = post(Some(&app.address), Some("same-origin")).await.unwrap();
    assert_eq!(own.status(), 201, "{}", own.text().await.unwrap());
    let count: i64 = sqlx::query_scalar("select count(*) from dashboard where title = 'Mine'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "the forged request changed nothing");
    // A forged sign-in is refused as well.
    let r = app
        .anonymous
        .post(app.url("/api/auth/sign-in"))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({"login": "ed", "password": "ed's long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // An expired session opens nothing (once the few seconds a checked session is believed
    // have passed); nor does one signed out.
    sqlx::query("update account_session set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(server::accounts::CREDENTIAL_CACHE_TTL).await;
    let r = with(&app, Method::GET, "/api/dashboards", "cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let again = sign_in_cookie(&app, "ed").await;
    let r = with(&app, Method::POST, "/api/auth/sign-out", "cookie", &again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = with(&app, Method::GET, "/api/auth/me", "cookie", &again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_names_the_user_and_others_cannot() {
    let input = server::config::SettingsInput {
        auth_proxy_header: Some("X-Webauth-User".into()),
        auth_proxy_role: Some("editor".into()),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    let me = with(
        &app,
        Method::GET,
        "/api/auth/me",
        "x-webauth-user",
        "sso-ana",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["login"].as_str(), me["role"].as_str()),
        (Some("sso-ana"), Some("editor"))
    );
    let saved = with(
        &app,
        Method::POST,
        "/api/dashboards",
        "x-webauth-user",
        "sso-ana",
    )
    .json(&json!({"dashboard": {"title": "From SSO", "panels": []}}))
    .send()
    .await
    .unwrap();
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    let uid = saved["dashboard"]["uid"].as_str().unwrap();
    let versions: Value = app
        .get(&format!("/api/dashboards/{uid}/versions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions[0]["created_by"], "sso-ana", "{versions}");
    app.stop().await;

    // Behind an address that is not trusted, the header is ignored.
    let input = server::config::SettingsInput {
        auth_proxy_header: Some("X-Webauth-User".into()),
        auth_proxy_trusted: Some("10.0.0.0/8".into()),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    let r = with(&app, Method::GET, "/api/auth/me", "x-webauth-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

/// Credentials a browser attaches by itself (the proxy's header, Basic credentials) get the
/// same cross-site check as the session cookie; a bearer token, which only a program holding it
/// sends, does not need it.
#[tokio::test]
async fn cross_site_requests_are_refused_for_every_browser_borne_credential() {
    let input = server::config::SettingsInput {
        auth_proxy_header: Some("X-Webauth-User".into()),
        auth_proxy_role: Some("editor".into()),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    let token = make_token(&app.db, "editing", &[Scope::Admin]).await;
    let forged = |name: &str, value: &str, title: &str| {
        with(&app, Method::POST, "/api/dashboards", name, value)
            .header(header::ORIGIN, "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"dashboard": {"title": title, "panels": []}}))
            .send()
    };
    let r = forged("x-webauth-user", "sso-ana", "via the proxy")
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the proxy's header, cross-site");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("proxy's user header"),
        "{body}"
    );
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("x:{token}")
        )
    );
    let r = forged("authorization", &basic, "via basic").await.unwrap();
    assert_eq!(r.status(), 403, "Basic credentials, cross-site");
    let r = forged("authorization", &format!("Bearer {token}"), "via bearer")
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a bearer token is not sent by browsers");
    let titles: Vec<String> = sqlx::query_scalar("select title from dashboard order by title")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(
        !titles
            .iter()
            .any(|t| t == "via the proxy" || t == "via basic"),
        "the forged requests changed nothing: {titles:?}"
    );
    // From the portal's own pages, both work.
    let own = with(
        &app,
        Method::POST,
        "/api/dashboards",
        "authorization",
        &basic,
    )
    .header(header::ORIGIN, &app.address)
    .json(&json!({"dashboard": {"title": "own page", "panels": []}}))
    .send()
    .await
    .unwrap();
    assert_eq!(own.status(), 201);
    app.stop().await;
}

/// A saved change whose answer is too large to record is audited with a note, and the client
/// gets the whole answer (it once got a 500 for a change that was made).
#[tokio::test]
async fn a_change_with_a_large_answer_is_audited_as_too_large_and_answered_whole() {
    let app = spawn_app().await;
    let text = "x".repeat(100_000);
    let panels: Vec<Value> = (1..=12)
        .map(|id| {
            json!({"id": id, "type": "text", "gridPos": {"x": 0, "y": id * 4, "w": 24, "h": 4},
                   "options": {"text": text}})
        })
        .collect();
    let r = app
        .client
        .post(app.url("/api/dashboards"))
        .json(&json!({"dashboard": {"uid": "big", "title": "Big", "panels": panels}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["dashboard"]["panels"].as_array().unwrap().len(), 12);
    assert_eq!(saved["dashboard"]["panels"][11]["options"]["text"], text);
    let log: Value = app.get("/api/audit?limit=20").await.json().await.unwrap();
    let event = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "POST /api/dashboards")
        .expect("the change is audited");
    assert_eq!(event["outcome"], 201);
    assert!(
        event["after"]
            .as_str()
            .unwrap()
            .contains("too large to record"),
        "{event}"
    );
    app.stop().await;
}

#[tokio::test]
async fn changes_and_sign_ins_are_audited_with_before_and_after() {
    let app = spawn_app().await;
    let cookie = account_cookie(&app, "ada", Role::Editor).await;
    let r = app
        .anonymous
        .post(app.url("/api/auth/sign-in"))
        .json(&json!({"login": "ada", "password": "not it at all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let send = |method: Method, path: &str, body: Value| {
        with(&app, method, path, "cookie", &cookie)
            .json(&body)
            .send()
    };
    let created = send(
        Method::POST,
        "/api/dashboards",
        json!({"dashboard": {"uid": "audited", "title": "Before", "panels": []}}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let record: Value = created.json().await.unwrap();
    let mut dashboard = record["dashboard"].clone();
    dashboard["title"] = json!("After");
    let updated = send(
        Method::PUT,
        "/api/dashboards/audited",
        json!({"dashboard": dashboard, "version": record["version"]}),
    )
    .await
    .unwrap();
    assert_eq!(updated.status(), 200, "{}", updated.text().await.unwrap());
    let deleted = send(Method::DELETE, "/api/dashboards/audited", Value::Null)
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let log: Value = app.get("/api/audit?actor=ada").await.json().await.unwrap();
    let events = log["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "DELETE /api/dashboards/{uid}",
            "PUT /api/dashboards/{uid}",
            "POST /api/dashboards",
            "sign-in failed",
            "sign-in"
        ],
        "{log:#}"
    );
    let put = &events[1];
    assert_eq!(put["target"], "/api/dashboards/audited");
    assert_eq!(put["address"], "127.0.0.1");
    assert_eq!(put["before"]["dashboard"]["title"], "Before");
    assert_eq!(put["after"]["dashboard"]["title"], "After");
    assert_eq!(events[0]["before"]["dashboard"]["title"], "After");
    assert!(events[0]["after"].is_null());
    assert_eq!(events[3]["outcome"], 401);
    // Filters and pages.
    let page: Value = app
        .get("/api/audit?actor=ada&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let next = page["next"].as_i64().unwrap();
    let rest: Value = app
        .get(&format!("/api/audit?actor=ada&before={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["events"].as_array().unwrap().len(), 3);
    let text: Value = app
        .get("/api/audit?q=sign-in%20failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(text["events"].as_array().unwrap().len(), 1);
    let bad = app.get("/api/audit?limit=100000").await;
    assert_eq!(bad.status(), 422);
    // Secrets never reach the log.
    let made = app
        .client
        .post(app.url("/api/auth/tokens"))
        .json(&json!({"name": "ci", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    let made: Value = made.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap();
    let all: Value = app.get("/api/audit?limit=500").await.json().await.unwrap();
    assert!(!all.to_string().contains(secret));
    assert!(!all.to_string().contains("ada's long password"));
    assert!(
        all.to_string().contains("token:tests"),
        "tokens are named as actors"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_team_edits_only_its_folder_and_others_do_not_see_it() {
    let app = spawn_app().await;
    let ana = account_cookie(&app, "ana", Role::Editor).await;
    let carl = account_cookie(&app, "carl", Role::Editor).await;
    let admin = |method: Method, path: &str, body: Value| {
        app.client.request(method, app.url(path)).json(&body).send()
    };
    let r = admin(
        Method::POST,
        "/api/auth/teams",
        json!({"name": "Team A", "members": ["ana"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = admin(
        Method::POST,
        "/api/auth/teams",
        json!({"name": "Team B", "members": ["nobody"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422, "unknown members are named");
    for kind in ["dashboards", "rules"] {
        let r = admin(
            Method::PUT,
            &format!("/api/auth/folders/{kind}/Team%20A"),
            json!({"grants": [{"team": "Team A", "permission": "edit"}]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let r = admin(
        Method::PUT,
        "/api/auth/folders/dashboards/X",
        json!({"grants": [{"team": "Team A", "login": "ana", "permission": "edit"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);

    let save = |cookie: &str, folder: &str, uid: &str| {
        with(&app, Method::POST, "/api/dashboards", "cookie", cookie)
            .json(&json!({"dashboard": {"uid": uid, "title": uid, "folder": folder, "panels": []}}))
            .send()
    };
    // The Editor in the team edits its folder, and only it.
    assert_eq!(
        save(&ana, "Team A", "team-a-board").await.unwrap().status(),
        201
    );
    let refused = save(&ana, "", "top-board").await.unwrap();
    assert_eq!(refused.status(), 403);
    // The Editor outside it neither sees nor changes it, and works elsewhere as before.
    assert_eq!(
        save(&carl, "Team A", "carl-board").await.unwrap().status(),
        403
    );
    assert_eq!(save(&carl, "", "carl-board").await.unwrap().status(), 201);
    let listed: Value = with(&app, Method::GET, "/api/dashboards", "cookie", &carl)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains("team-a-board"), "{listed}");
    for (method, path) in [
        (Method::GET, "/api/dashboards/team-a-board"),
        (Method::DELETE, "/api/dashboards/team-a-board"),
        (Method::GET, "/api/dashboards/team-a-board/versions"),
    ] {
        let r = with(&app, method.clone(), path, "cookie", &carl)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
    }
    // Nor can the Editor move their own dashboard into the team's folder.
    let moved = with(&app, Method::PUT, "/api/dashboards/carl-board", "cookie", &carl)
        .json(&json!({"dashboard": {"uid": "carl-board", "title": "x", "folder": "Team A", "panels": []}, "overwrite": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 403);
    // Rules' folders work the same way.
    let rule = |folder: &str| {
        let mut body = crate::alerting::queue_rule("1m");
        body["folder"] = json!(folder);
        body
    };
    let r = with(&app, Method::POST, "/api/alerting/rules", "cookie", &carl)
        .json(&rule("Team A"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = with(&app, Method::POST, "/api/alerting/rules", "cookie", &ana)
        .json(&rule("Team A"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let folders: Value = app.get("/api/auth/folders").await.json().await.unwrap();
    assert_eq!(folders.as_array().unwrap().len(), 2, "{folders}");
    // Emptying a folder's grants opens it to every role again.
    let r = admin(
        Method::PUT,
        "/api/auth/folders/dashboards/Team%20A",
        json!({"grants": []}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = with(
        &app,
        Method::GET,
        "/api/dashboards/team-a-board",
        "cookie",
        &carl,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// Contact-point secrets are write-only: once saved, nobody reads them back (not an Admin, a
/// Viewer, a read token, the audit log or Alertmanager's API), a save that leaves them blank
/// keeps them (the test message still reaches the saved URL), and a new value replaces them.
#[tokio::test]
async fn contact_point_secrets_are_never_read_back() {
    let app = spawn_app().await;
    let receiver = crate::alerting::Receiver::start().await;
    let secret_url = format!("{}?token=s3cr3t-webhook-token", receiver.url);
    let r = app
        .client
        .post(app.url("/api/alerting/contact-points"))
        .json(&json!({"name": "hook", "type": "webhook", "url": secret_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["url"], "", "{saved}");
    assert_eq!(saved["configured"], json!(["url"]));
    let r = app
        .client
        .post(app.url("/api/alerting/contact-points"))
        .json(&json!({"name": "pager", "type": "pagerduty", "routing_key": "R0UT1NG-S3CR3T"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // A save that leaves the URL blank keeps it; "send test" still reaches it.
    let r = app
        .client
        .put(app.url("/api/alerting/contact-points/hook"))
        .json(&json!({"name": "hook", "type": "webhook", "url": "", "configured": ["url"], "max_alerts": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .client
        .post(app.url("/api/alerting/contact-points/hook/test"))
        .send()
        .await
        .unwrap();
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["delivered"], true, "{outcome}");
    // Blank without anything saved is an error naming the field.
    let r = app
        .client
        .post(app.url("/api/alerting/contact-points"))
        .json(&json!({"name": "fresh", "type": "webhook", "url": "", "configured": ["url"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "url");

    let viewer = account_cookie(&app, "vi", Role::Viewer).await;
    let read = make_token(&app.db, "reader", &[Scope::Read]).await;
    let alertmanager = make_token(&app.db, "am", &[Scope::Alertmanager]).await;
    let mut seen = Vec::new();
    for path in [
        "/api/alerting/contact-points",
        "/api/alerting/contact-points/hook",
        "/api/alerting/contact-points/pager",
        "/api/alerting/policy",
        "/api/alerting/notifications",
        "/api/v2/receivers",
        "/api/v2/status",
        "/api/audit",
    ] {
        for (who, request) in [
            ("admin", app.client.get(app.url(path))),
            ("viewer", with(&app, Method::GET, path, "cookie", &viewer)),
            (
                "read token",
                app.anonymous.get(app.url(path)).bearer_auth(&read),
            ),
            (
                "alertmanager token",
                app.anonymous.get(app.url(path)).bearer_auth(&alertmanager),
            ),
        ] {
            let r = request.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(
                !text.contains("s3cr3t") && !text.contains("R0UT1NG"),
                "{who} read a secret from {path}: {text}"
            );
            seen.push((path, who, status.as_u16()));
        }
    }
    // The routes answered (this is not a test of refusals).
    for (path, who, status) in &seen {
        if *who == "admin" {
            assert_eq!(*status, 200, "{path}");
        }
    }
    let stored: Value = sqlx::query_scalar("select spec from contact_point where name = 'hook'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored["url"], secret_url, "kept as saved");
    assert_eq!(stored["max_alerts"], 3);
    assert!(stored.get("configured").is_none());
    // A new value replaces it.
    let r = app
        .client
        .put(app.url("/api/alerting/contact-points/hook"))
        .json(&json!({"name": "hook", "type": "webhook", "url": "https://example.com/other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stored: Value = sqlx::query_scalar("select spec from contact_point where name = 'hook'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored["url"], "https://example.com/other");
    app.stop().await;
}

/// A folder with grants is invisible to everyone not named, on every route that returns rules,
/// alerts, dashboards or their content, tried as a hostile Viewer, a read token and an
/// alertmanager token would; the team member granted the folder sees it.
#[tokio::test]
async fn a_restricted_folder_leaks_through_no_route() {
    let app = spawn_app().await;
    let receiver = crate::alerting::Receiver::start().await;
    crate::alerting::route_all_to(
        &app,
        &receiver,
        "hook",
        json!({"group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}),
    )
    .await;
    let pam = account_cookie(&app, "pam", Role::Viewer).await;
    let vic = account_cookie(&app, "vic", Role::Viewer).await;
    let admin = |method: Method, path: &str, body: Value| {
        app.client.request(method, app.url(path)).json(&body).send()
    };
    let r = admin(
        Method::POST,
        "/api/auth/teams",
        json!({"name": "Vault team", "members": ["pam"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    for kind in ["dashboards", "rules"] {
        let r = admin(
            Method::PUT,
            &format!("/api/auth/folders/{kind}/VaultZ"),
            json!({"grants": [{"team": "Vault team", "permission": "view"}]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    crate::alerting::write_depths(&app, &[("hiddenqueuez", 150.0)]).await;
    let mut rule = crate::alerting::queue_rule("0s");
    rule["folder"] = json!("VaultZ");
    rule["group"] = json!("hiddengroupz");
    rule["rule"]["name"] = json!("HiddenRuleZ");
    rule["rule"]["labels"] = json!({"team": "hiddenteamz"});
    let created = crate::alerting::create_rule(&app, rule).await;
    let uid = created["rule"]["uid"].as_str().unwrap().to_string();
    let r = admin(
        Method::POST,
        "/api/dashboards",
        json!({"dashboard": {"uid": "hiddenboardz", "title": "HiddenBoardZ", "folder": "VaultZ",
            "panels": [{"id": 1, "type": "stat", "title": "hiddenpanelz", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
                        "targets": [{"expr": "test_queue_depth"}]}]}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let link: Value = admin(
        Method::POST,
        "/api/short-links",
        json!({"path": "/d/hiddenboardz?var-x=hiddenvarz"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let r = admin(
        Method::POST,
        "/api/dashboards/hiddenboardz/public-links",
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // The rule fires and is notified.
    receiver
        .wait_for(std::time::Duration::from_secs(20), |v| {
            v["groupLabels"]["alertname"] == "HiddenRuleZ"
        })
        .await;

    let read = make_token(&app.db, "reader", &[Scope::Read]).await;
    let am = make_token(&app.db, "am", &[Scope::Alertmanager]).await;
    let everything = json!({"matchers": [{"name": "alertname", "op": "=~", "value": ".+"}]});
    let routes: Vec<(Method, String)> = [
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/alerting/alerts",
        "/api/alerting/rules",
        "/api/alerting/groups",
        "/api/alerting/export",
        "/api/alerting/notifications",
        "/api/v2/alerts",
        "/api/v2/alerts/groups",
        "/api/dashboards",
        "/api/dashboards?query=hidden",
        "/api/dashboards/hiddenboardz",
        "/api/dashboards/hiddenboardz/export",
        "/api/dashboards/hiddenboardz/versions",
        "/api/dashboards/hiddenboardz/versions/1",
        "/api/dashboards/hiddenboardz/public-links",
        "/api/dashboards/hiddenboardz/panels/1.png",
        "/api/auth/folders",
        "/api/auth/folders/rules/VaultZ",
    ]
    .iter()
    .map(|p| (Method::GET, p.to_string()))
    .chain([
        (Method::GET, format!("/api/alerting/rules/{uid}")),
        (Method::GET, format!("/api/alerting/rules/{uid}/history")),
        (Method::GET, link["url"].as_str().unwrap().to_string()),
        (Method::POST, "/api/alerting/silences/preview".to_string()),
    ])
    .collect();
    let secrets = [
        "hiddenrulez",
        "hiddenboardz",
        "vaultz",
        "hiddenteamz",
        "hiddenqueuez",
        "hiddenvarz",
        "hiddenpanelz",
        "hiddengroupz",
        uid.as_str(),
    ];
    let mut tried = Vec::new();
    for (method, path) in &routes {
        for (who, name, value) in [
            ("viewer", "cookie", vic.clone()),
            ("read token", "authorization", format!("Bearer {read}")),
            (
                "alertmanager token",
                "authorization",
                format!("Bearer {am}"),
            ),
        ] {
            let mut request = with(&app, method.clone(), path, name, &value);
            if *method == Method::POST {
                request = request
                    .header(header::ORIGIN, &app.address)
                    .json(&everything);
            }
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get(header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default();
            let text = format!("{location} {}", r.text().await.unwrap()).to_lowercase();
            for secret in secrets {
                assert!(
                    !text.contains(&secret.to_lowercase()),
                    "{who} read \"{secret}\" from {method} {path} ({status}): {text}"
                );
            }
            tried.push(format!("{method} {path} as {who}: {status}"));
        }
    }
    // The one granted the folder sees all of it, where the others saw nothing.
    for path in [
        "/api/alerting/alerts",
        "/api/v1/rules",
        "/api/alerting/notifications",
        "/api/dashboards",
    ] {
        let r = with(&app, Method::GET, path, "cookie", &pam)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap().to_lowercase();
        assert!(
            text.contains("hiddenrulez") || text.contains("hiddenboardz"),
            "pam sees {path}: {text}"
        );
    }
    let r = with(
        &app,
        Method::GET,
        link["url"].as_str().unwrap(),
        "cookie",
        &pam,
    )
    .send()
    .await
    .unwrap();
    assert!(r.status().is_redirection());
    assert!(tried.len() >= 60, "{tried:#?}");
    app.stop().await;
}

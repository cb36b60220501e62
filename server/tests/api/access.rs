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
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
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

fn expected(access: Access, caller: &Caller) -> bool {
    let person = |role: Role| caller.role.is_some_and(|r| r >= role);
    let scope = |s: Scope| caller.scope == Some(s) || caller.scope == Some(Scope::Admin);
    match access {
        Access::Open | Access::Metrics => true,
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
        let method = if method == "*" {
            Method::GET
        } else {
            method.parse().unwrap()
        };
        let path = concrete(route);
        for caller in &callers {
            let response = call(&app, &method, &path, caller).await;
            let status = response.status();
            let allowed = expected(access, caller);
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

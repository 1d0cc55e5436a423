//! The control plane's HTTP surface on SQLite and PostgreSQL: authentication by cookie, API
//! key, JWT and basic auth; roles enforced before anything changes; errors as 4xx with a
//! message; health, readiness and Prometheus metrics.
#![allow(clippy::unwrap_used)]

#[path = "../../../engine/tests/common/mod.rs"]
mod common;
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use tower::ServiceExt;
use web::server::{AppState, router};
use web::types::Role;

const RITA_PASSWORD: &str = "researcher-password-1";
const VIC_PASSWORD: &str = "viewer-password-123";

struct Fixture {
    state: AppState,
    rita_key: String,
    vic_key: String,
}

async fn fixture(test_db: &common::TestDb) -> Fixture {
    let state = support::state_on(test_db).await;
    state.accounts.add_user("rita", RITA_PASSWORD, Role::Researcher).await.unwrap();
    state.accounts.add_user("vic", VIC_PASSWORD, Role::Viewer).await.unwrap();
    let rita_key = state.accounts.create_api_key("rita", "tests").await.unwrap();
    let vic_key = state.accounts.create_api_key("vic", "tests").await.unwrap();
    Fixture { state, rita_key, vic_key }
}

/// One request through the whole app (middleware included), as a client at 127.0.0.1.
async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = req;
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap().to_vec();
    (status, headers, body)
}

fn get(uri: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::empty()).unwrap()
}

fn post_json(uri: &str, auth: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn every_credential_kind_identifies_the_caller_and_bad_ones_are_refused() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let label = test_db.label;
        let (status, _, body) = call(&f.state, get("/api/v1/me", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(json_of(&body)["error_code"], "UNAUTHENTICATED");

        let (status, headers, _) = call(&f.state, get("/experiments?q=x", None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{label}: pages send strangers to the login page");
        assert_eq!(headers[header::LOCATION], "/login?next=%2Fexperiments%3Fq%3Dx");

        for auth in [bearer(&f.rita_key), basic("rita", RITA_PASSWORD), basic("rita", &f.rita_key)] {
            let (status, _, body) = call(&f.state, get("/api/v1/me", Some(&auth))).await;
            assert_eq!(status, StatusCode::OK, "{label}: {auth}");
            assert_eq!(json_of(&body), json!({ "name": "rita", "role": "Researcher" }));
        }
        for auth in
            [bearer("sxk_0000"), basic("rita", "wrong-password-000"), basic("vic", &f.rita_key), bearer("not.a.jwt")]
        {
            let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&auth))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: {auth} must be refused");
        }

        // A JWT from /api/v1/token works until it is tampered with.
        let body = json!({ "username": "vic", "password": VIC_PASSWORD }).to_string();
        let (status, _, token) = call(&f.state, post_json("/api/v1/token", None, &body)).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        let jwt = json_of(&token)["access_token"].as_str().unwrap().to_string();
        let (status, _, me) = call(&f.state, get("/api/v1/me", Some(&bearer(&jwt)))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json_of(&me)["name"], "vic");
        let mut forged = jwt.clone();
        forged.pop();
        forged.push(if jwt.ends_with('A') { 'B' } else { 'A' });
        let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&bearer(&forged)))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: a forged signature is refused");

        // Disabling a user stops their key and their password at once.
        f.state.accounts.set_disabled("vic", true).await.unwrap();
        for auth in [bearer(&f.vic_key), basic("vic", VIC_PASSWORD), bearer(&jwt)] {
            let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&auth))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: disabled user via {auth}");
        }
        test_db.finish().await;
    }
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_change_anything() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let label = test_db.label;
        let rita = bearer(&f.rita_key);
        let vic = bearer(&f.vic_key);
        // Rita registers a model with two versions and makes v1 champion through the MLflow API.
        let create = json!({ "name": "m" }).to_string();
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/create", Some(&rita), &create)).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        for _ in 0..2 {
            let v = json!({ "name": "m", "source": "file:///tmp/x" }).to_string();
            let (status, _, _) =
                call(&f.state, post_json("/api/2.0/mlflow/model-versions/create", Some(&rita), &v)).await;
            assert_eq!(status, StatusCode::OK);
        }
        let alias = json!({ "name": "m", "alias": "champion", "version": "1" }).to_string();
        // The user recorded is the authenticated one, whatever the client claims.
        let mut req = post_json("/api/2.0/mlflow/registered-models/alias", Some(&rita), &alias);
        req.headers_mut().insert("x-sextant-user", "mallory".parse().unwrap());
        let (status, _, _) = call(&f.state, req).await;
        assert_eq!(status, StatusCode::OK);
        let history = f.state.store.alias_history("m").await.unwrap();
        assert_eq!(history.last().unwrap()["changed_by"], "rita", "{label}");

        // Vic may search and read...
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/search", Some(&vic), "{}")).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        let (status, _, body) = call(&f.state, get("/api/v1/models/m", Some(&vic))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json_of(&body)["versions"].as_array().unwrap().len(), 2);
        // ...but every way of promoting is refused with 403, and nothing moves.
        let alias2 = json!({ "name": "m", "alias": "champion", "version": "2" }).to_string();
        let (status, _, body) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/alias", Some(&vic), &alias2)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{label}");
        assert_eq!(json_of(&body)["error_code"], "PERMISSION_DENIED");
        let (status, _, _) =
            call(&f.state, post_json("/api/v1/models/m/aliases", Some(&vic), r#"{"alias":"champion","version":2}"#))
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/create", Some(&vic), r#"{"name":"n"}"#)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(f.state.store.version_by_alias("m", "champion").await.unwrap().version, 1, "{label}: unchanged");
        assert!(f.state.store.registered_model("n").await.is_err(), "{label}: nothing created");
        let bt = json!({ "symbol": "GOOG", "timeframe": "", "strategy": "sma_cross", "params": "", "cash": "1000", "commission": "0" });
        let (status, _, _) = call(&f.state, post_json("/api/v1/backtests", Some(&vic), &bt.to_string())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Rita's promotion through the JSON API is recorded under her name.
        let (status, _, _) =
            call(&f.state, post_json("/api/v1/models/m/aliases", Some(&rita), r#"{"alias":"champion","version":2}"#))
                .await;
        assert_eq!(status, StatusCode::OK, "{label}");
        assert_eq!(f.state.store.version_by_alias("m", "champion").await.unwrap().version, 2);
        test_db.finish().await;
    }
}

fn delete(uri: &str, auth: &str) -> Request<Body> {
    Request::delete(uri).header(header::AUTHORIZATION, auth).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn api_keys_are_listed_without_secrets_and_revoked_one_by_one() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let label = test_db.label;
        let rita = bearer(&f.rita_key);
        let (status, _, body) = call(&f.state, post_json("/api/v1/keys", Some(&rita), r#"{"label":"sweeps"}"#)).await;
        assert_eq!(status, StatusCode::CREATED, "{label}");
        let second = json_of(&body)["key"].as_str().unwrap().to_string();
        assert!(second.starts_with("sxk_") && second != f.rita_key);

        // Rita sees her two keys, newest first, by their first characters only; her first key
        // has been used (this very request), the new one not yet.
        let (status, _, body) = call(&f.state, get("/api/v1/keys", Some(&rita))).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        let keys = json_of(&body);
        let listed: Vec<(&str, &str)> = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["user"].as_str().unwrap(), k["label"].as_str().unwrap()))
            .collect();
        assert_eq!(listed, [("rita", "sweeps"), ("rita", "tests")], "{label}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(&second) && !text.contains(&f.rita_key), "{label}: no secret in a listing");
        assert_eq!(keys[0]["prefix"].as_str().unwrap(), &second[..10]);
        assert!(keys[0]["last_used_ms"].is_null() && keys[1]["last_used_ms"].is_i64(), "{label}: {keys}");

        // Vic cannot see or revoke Rita's keys: his listing is his own, a revoke is a 404.
        let vic = bearer(&f.vic_key);
        let (_, _, body) = call(&f.state, get("/api/v1/keys", Some(&vic))).await;
        assert_eq!(json_of(&body).as_array().unwrap().len(), 1, "{label}");
        let rita_first = keys[1]["id"].as_i64().unwrap();
        let (status, _, _) = call(&f.state, delete(&format!("/api/v1/keys/{rita_first}"), &vic)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}");
        let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&rita))).await;
        assert_eq!(status, StatusCode::OK, "{label}: still valid");

        // Rita revokes her first key with the second: the first stops at once, the second works.
        let (status, _, body) = call(&f.state, delete(&format!("/api/v1/keys/{rita_first}"), &bearer(&second))).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        assert_eq!(json_of(&body)["label"], "tests");
        let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&rita))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: a revoked key is refused");
        let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&bearer(&second)))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call(&f.state, delete("/api/v1/keys/abc", &bearer(&second))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // An administrator lists everyone's keys and may revoke Vic's.
        f.state.accounts.add_user("ada", "admin-password-123", Role::Admin).await.unwrap();
        let ada = basic("ada", "admin-password-123");
        let (_, _, body) = call(&f.state, get("/api/v1/keys", Some(&ada))).await;
        let all = json_of(&body);
        let users: Vec<&str> = all.as_array().unwrap().iter().map(|k| k["user"].as_str().unwrap()).collect();
        assert_eq!(users.len(), 2, "{label}: {users:?}");
        assert!(users.contains(&"rita") && users.contains(&"vic"));
        let vic_id = all.as_array().unwrap().iter().find(|k| k["user"] == "vic").unwrap()["id"].as_i64().unwrap();
        let (status, _, _) = call(&f.state, delete(&format!("/api/v1/keys/{vic_id}"), &ada)).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        let (status, _, _) = call(&f.state, get("/api/v1/me", Some(&vic))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        test_db.finish().await;
    }
}

#[tokio::test]
async fn a_role_change_applies_to_the_next_request_and_the_last_admin_keeps_theirs() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let label = test_db.label;
        let vic = bearer(&f.vic_key);
        let create = |name: &str| json!({ "name": name }).to_string();
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/create", Some(&vic), &create("v1"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{label}: a viewer cannot register");

        // Promoted to researcher: the same key may now write, with no new login.
        f.state.accounts.set_role("vic", Role::Researcher).await.unwrap();
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/create", Some(&vic), &create("v2"))).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        let (_, _, body) = call(&f.state, get("/api/v1/me", Some(&vic))).await;
        assert_eq!(json_of(&body)["role"], serde_json::to_value(Role::Researcher).unwrap(), "{label}");

        // Back to viewer: refused again at once, and nothing is created.
        f.state.accounts.set_role("vic", Role::Viewer).await.unwrap();
        let (status, _, _) =
            call(&f.state, post_json("/api/2.0/mlflow/registered-models/create", Some(&vic), &create("v3"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{label}");
        assert!(f.state.store.registered_model("v3").await.is_err(), "{label}");

        // The only active administrator cannot be demoted (nobody could manage users after);
        // once there is a second one, they can.
        let admins = |users: Vec<web::server::accounts::UserRecord>| {
            users.into_iter().filter(|u| u.role == Role::Admin && !u.disabled).map(|u| u.name).collect::<Vec<_>>()
        };
        f.state.accounts.add_user("ada", "admin-password-123", Role::Admin).await.unwrap();
        let only = admins(f.state.accounts.list_users().await.unwrap());
        assert_eq!(only, ["ada"], "{label}");
        let refused = f.state.accounts.set_role("ada", Role::Viewer).await.unwrap_err();
        assert!(refused.to_string().contains("last active administrator"), "{label}: {refused}");
        assert_eq!(admins(f.state.accounts.list_users().await.unwrap()), only, "{label}: unchanged");
        f.state.accounts.set_role("rita", Role::Admin).await.unwrap();
        f.state.accounts.set_role("ada", Role::Researcher).await.unwrap();
        assert_eq!(admins(f.state.accounts.list_users().await.unwrap()), ["rita"], "{label}");
        let missing = f.state.accounts.set_role("nobody", Role::Viewer).await.unwrap_err();
        assert!(missing.to_string().contains("no user named `nobody`"), "{label}: {missing}");
        test_db.finish().await;
    }
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_reason_never_500() {
    let test_db = common::sqlite().await;
    let f = fixture(&test_db).await;
    let rita = bearer(&f.rita_key);
    let (status, _, body) = call(&f.state, post_json("/api/v1/models/m/aliases", Some(&rita), "{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&body)["error_code"], "MALFORMED_REQUEST");

    let bt = json!({ "symbol": "GOOG", "timeframe": "7q", "strategy": "moon", "params": "fast", "cash": "-5", "commission": "2" });
    let (status, _, body) = call(&f.state, post_json("/api/v1/backtests", Some(&rita), &bt.to_string())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> =
        json_of(&body)["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    for field in ["timeframe", "strategy", "params", "cash", "commission"] {
        assert!(fields.contains(&field.to_string()), "{field} has its reason: {fields:?}");
    }
    assert!(
        f.state.store.experiment_by_name("Backtests").await.unwrap().is_none(),
        "an invalid request starts nothing"
    );

    let huge = "x".repeat(3 << 20);
    let (status, _, _) = call(&f.state, post_json("/api/v1/backtests", Some(&rita), &huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _, body) = call(&f.state, get("/api/v1/experiments/12345/runs", Some(&rita))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json_of(&body)["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let (status, _, body) =
        call(&f.state, get("/api/v1/experiments/0/runs?filter=metrics.x%20%3E%3E%201", Some(&rita))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&body)["error_code"], "INVALID_PARAMETER_VALUE");
    let (status, _, body) = call(&f.state, get("/api/v1/nothing-here", Some(&rita))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json_of(&body)["error_code"], "ENDPOINT_NOT_FOUND");
    test_db.finish().await;
}

#[tokio::test]
async fn login_sets_a_secure_http_only_cookie_and_is_rate_limited() {
    let test_db = common::sqlite().await;
    let f = fixture(&test_db).await;
    let form = |user: &str, pw: &str| {
        Request::post("/auth/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("username={user}&password={pw}&next=%2Fmodels")))
            .unwrap()
    };
    let (status, headers, _) = call(&f.state, form("rita", RITA_PASSWORD)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/models");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let mut req = get("/api/v1/me", None);
    req.headers_mut().insert(header::COOKIE, session.parse().unwrap());
    let (status, _, body) = call(&f.state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["name"], "rita");

    // Guessing: after a burst of five, even the right password waits.
    let mut limited = false;
    for _ in 0..6 {
        let (_, headers, _) = call(&f.state, form("vic", "guess-guess-guess")).await;
        limited |= headers[header::LOCATION].to_str().unwrap().contains("Too%20many")
            || headers.contains_key(header::RETRY_AFTER);
    }
    assert!(limited, "repeated failures are rate limited");
    let (_, headers, _) = call(&f.state, form("vic", VIC_PASSWORD)).await;
    assert!(headers.get(header::SET_COOKIE).is_none(), "no session while rate limited");
    test_db.finish().await;
}

#[tokio::test]
async fn a_page_of_another_site_cannot_act_with_the_session_cookie() {
    let test_db = common::sqlite().await;
    let f = fixture(&test_db).await;
    let session = format!("sextant_session={}", f.state.accounts.create_session("rita").await.unwrap());
    let create_key = |origin: &str| {
        let mut req = post_json("/api/v1/keys", None, r#"{"label": "from a page"}"#);
        req.headers_mut().insert(header::COOKIE, session.parse().unwrap());
        req.headers_mut().insert(header::HOST, "localhost:3000".parse().unwrap());
        req.headers_mut().insert(header::ORIGIN, origin.parse().unwrap());
        req
    };
    let keys_before = f.state.accounts.list_api_keys(Some("rita")).await.unwrap().len();
    // Another port on the same host is the same site for SameSite=Lax, so the cookie alone would pass.
    let (status, _, body) = call(&f.state, create_key("http://localhost:8000")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let error = json_of(&body);
    assert_eq!(error["error_code"], "PERMISSION_DENIED");
    assert!(error["message"].as_str().unwrap().contains("http://localhost:8000"), "{error}");
    assert_eq!(f.state.accounts.list_api_keys(Some("rita")).await.unwrap().len(), keys_before, "nothing was created");
    // The same request from the server's own page goes through.
    let (status, _, _) = call(&f.state, create_key("http://localhost:3000")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(f.state.accounts.list_api_keys(Some("rita")).await.unwrap().len(), keys_before + 1);
    test_db.finish().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() {
    let test_db = common::sqlite().await;
    let f = fixture(&test_db).await;
    for path in ["/healthz", "/readyz"] {
        let (status, _, _) = call(&f.state, get(path, None)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (_, _, _) = call(&f.state, get("/api/v1/me", Some(&bearer(&f.rita_key)))).await;
    let (status, _, body) = call(&f.state, get("/metrics", None)).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("sextant_http_requests_total{area=\"api\",method=\"GET\",status=\"200\"}"), "{text}");
    assert!(text.contains("sextant_http_request_duration_seconds_bucket"), "{text}");
    let (status, _, body) = call(&f.state, get("/api/v1/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    let doc = json_of(&body);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every documented path is served: none answers ENDPOINT_NOT_FOUND.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "0").replace("{name}", "m");
        for method in ops.as_object().unwrap().keys() {
            let req = match method.as_str() {
                "get" => get(&concrete, Some(&bearer(&f.rita_key))),
                "post" => post_json(&concrete, Some(&bearer(&f.rita_key)), "{}"),
                other => Request::builder()
                    .method(other.to_ascii_uppercase().as_str())
                    .uri(&concrete)
                    .header(header::AUTHORIZATION, bearer(&f.rita_key))
                    .body(Body::empty())
                    .unwrap(),
            };
            let (status, _, body) = call(&f.state, req).await;
            let endpoint_missing =
                status == StatusCode::NOT_FOUND && String::from_utf8_lossy(&body).contains("ENDPOINT_NOT_FOUND");
            assert!(
                !endpoint_missing && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not served"
            );
        }
    }
    test_db.finish().await;
}

#[tokio::test]
async fn the_overview_lists_the_newest_runs_and_backtests_apart() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let store = &f.state.store;
        let research = store.create_experiment("research", None, &[]).await.unwrap().to_string();
        let backtests = store.create_experiment("Backtests", None, &[]).await.unwrap().to_string();
        for i in 0..10 {
            store.create_run(&research, "rita", Some(&format!("trial-{i}")), Some(1_000 + i), &[]).await.unwrap();
        }
        store.create_run(&backtests, "rita", Some("bt-only"), Some(5_000), &[]).await.unwrap();
        let (status, _, body) = call(&f.state, get("/", Some(&bearer(&f.rita_key)))).await;
        assert_eq!(status, StatusCode::OK, "{}", test_db.label);
        let html = String::from_utf8(body).unwrap();
        let recent = html.split("id=\"latest-backtests\"").next().unwrap();
        // The eight newest research runs, newest first; the backtest only in its own card.
        for i in 2..10 {
            assert!(recent.contains(&format!(">trial-{i}<")), "{}: trial-{i} missing", test_db.label);
        }
        assert!(!recent.contains(">trial-1<") && !recent.contains(">bt-only<"), "{}", test_db.label);
        assert!(recent.find(">trial-9<").unwrap() < recent.find(">trial-2<").unwrap());
        assert!(html.contains(">bt-only<"));
        test_db.finish().await;
    }
}

/// A backtest started through the API is followed to its end: the stage names where it is, its
/// progress counts the bars of the data, and the finished run has its curve and metrics.
#[tokio::test]
async fn a_started_backtest_reports_its_stage_and_progress_until_it_finishes() {
    let test_db = common::sqlite().await;
    let f = fixture(&test_db).await;
    let rita = bearer(&f.rita_key);
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/GOOG.csv");
    let imported = web::server::backtests::catalog(&f.state)
        .import_file(&sample, &engine::data::import::ImportOptions::default())
        .await
        .unwrap();
    let bars = imported[0].rows_added as u64;
    let bt = json!({ "symbol": "GOOG", "timeframe": "", "strategy": "sma_cross", "params": "fast=10, slow=30", "cash": "10000", "commission": "0.001" });
    let (status, _, body) = call(&f.state, post_json("/api/v1/backtests", Some(&rita), &bt.to_string())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["run_id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    let last = loop {
        let (status, _, body) = call(&f.state, get(&format!("/api/v1/backtests/{id}"), Some(&rita))).await;
        assert_eq!(status, StatusCode::OK);
        let detail = json_of(&body);
        let stage = detail["stage"].clone();
        if let Some([done, total]) =
            stage["progress"].as_array().map(|p| [p[0].as_u64().unwrap(), p[1].as_u64().unwrap()])
        {
            assert_eq!(total, bars, "progress counts the data's bars");
            assert!(done <= total);
            assert!(stage["text"].as_str().unwrap().starts_with("simulating "), "{stage}");
        }
        seen.push(stage["text"].as_str().unwrap().to_string());
        if detail["run"]["status"] != "RUNNING" {
            break detail;
        }
        assert!(std::time::Instant::now() < deadline, "the backtest did not finish: {seen:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(last["run"]["status"], "FINISHED", "{seen:?}");
    assert_eq!(last["stage"]["text"], "finished");
    assert!(last["stage"]["progress"].is_null());
    assert!(last["equity"].is_object(), "the finished backtest has its equity curve");
    assert!(last["run"]["metrics"].as_object().is_some_and(|m| m.contains_key("sharpe_ratio")), "{}", last["run"]);
    test_db.finish().await;
}

/// Rotating the JWT secret: a token signed before keeps working until the next rotation, a new
/// one is signed with the new secret, and another server on the same database accepts the new
/// token at once (it rereads the secrets when a signature is unknown to it).
#[tokio::test]
async fn a_rotated_jwt_secret_signs_new_tokens_and_retires_the_old_one_a_rotation_later() {
    for test_db in common::both().await {
        let f = fixture(&test_db).await;
        let label = test_db.label;
        let token = |state: AppState| async move {
            let body = json!({ "username": "rita", "password": RITA_PASSWORD }).to_string();
            let (status, _, token) = call(&state, post_json("/api/v1/token", None, &body)).await;
            assert_eq!(status, StatusCode::OK);
            json_of(&token)["access_token"].as_str().unwrap().to_string()
        };
        let me =
            |state: AppState, jwt: String| async move { call(&state, get("/api/v1/me", Some(&bearer(&jwt)))).await.0 };
        // A second server of the same project, started before the rotation.
        let other = support::state_on(&test_db).await;
        let before = token(f.state.clone()).await;
        f.state.accounts.rotate_jwt_secret().await.unwrap();
        let after = token(f.state.clone()).await;
        assert_ne!(before.rsplit('.').next(), after.rsplit('.').next(), "{label}: signed with another secret");
        for (who, jwt) in [("before", &before), ("after", &after)] {
            assert_eq!(me(f.state.clone(), jwt.clone()).await, StatusCode::OK, "{label}: the token from {who}");
        }
        // Past the one-second guard on rereading, the other server learns the new secret.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(me(other.clone(), after.clone()).await, StatusCode::OK, "{label}: the other server");
        f.state.accounts.rotate_jwt_secret().await.unwrap();
        assert_eq!(me(f.state.clone(), before.clone()).await, StatusCode::UNAUTHORIZED, "{label}: two rotations old");
        assert_eq!(me(f.state.clone(), after.clone()).await, StatusCode::OK, "{label}: one rotation old");
        test_db.finish().await;
    }
}

//! Who a request acts for, and whether it may: session cookies for the browser, API keys, JWTs
//! and HTTP basic auth for programs (the MLflow clients' token and user/password variables).

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::accounts::API_KEY_PREFIX;
use crate::types::{Identity, Role};

pub const SESSION_COOKIE: &str = "sextant_session";
/// The header the registry reads for "who moved this alias"; set here, never trusted from outside.
const REGISTRY_USER_HEADER: &str = "x-sextant-user";

/// Login attempts per client address and per user name: a burst of 5, then one every 12 s.
pub fn login_limiter() -> DefaultKeyedRateLimiter<String> {
    let per_minute = NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per_minute))
}

/// What part of the server a path belongs to decides how a missing or weak identity is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Area {
    Public,
    Registry,
    JsonApi,
    ServerFn,
    Page,
}

fn area(path: &str) -> Area {
    const PUBLIC: [&str; 7] =
        ["/login", "/auth/login", "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/v1/token"];
    if PUBLIC.contains(&path) || path.starts_with("/pkg/") || path == "/favicon.ico" || path == "/api/v1/docs" {
        Area::Public
    } else if path.starts_with("/api/2.0/") || path.starts_with("/ajax-api/2.0/") {
        Area::Registry
    } else if path.starts_with("/api/v1/") || path == "/ws" {
        Area::JsonApi
    } else if path.starts_with("/sfn/") {
        Area::ServerFn
    } else {
        Area::Page
    }
}

/// Whether a registry request only reads: GETs, and the POSTs that MLflow uses for searches.
fn registry_read_only(method: &Method, path: &str) -> bool {
    method == Method::GET || method == Method::HEAD || (method == Method::POST && path.ends_with("/search"))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Resolves the request's credentials; `None` when it carries none that hold.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Option<Identity> {
    let accounts = &state.accounts;
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = auth.strip_prefix("Bearer ").map(str::trim) {
            return if token.starts_with(API_KEY_PREFIX) {
                accounts.api_key_identity(token).await.ok().flatten()
            } else {
                accounts.jwt_identity(token).await.ok().flatten()
            };
        }
        if let Some(basic) = auth.strip_prefix("Basic ").map(str::trim) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(basic).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (user, password) = text.split_once(':')?;
            // The MLflow client sends an API key as the password too; accept both.
            if password.starts_with(API_KEY_PREFIX) {
                return accounts.api_key_identity(password).await.ok().flatten().filter(|id| id.name == user);
            }
            return accounts.verify_password(user, password).await.ok();
        }
    }
    let token = cookie(headers, SESSION_COOKIE)?;
    accounts.session_identity(token).await.ok().flatten()
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error_code": code, "message": message }))).into_response()
}

/// The middleware every request passes: refuses cross-site browser requests, attaches the
/// identity, or answers 401/403 (or sends a browser to the login page) before any handler runs,
/// so a refused request changes nothing.
pub async fn authenticate(State(state): State<AppState>, mut req: Request<Body>, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let area = area(&path);
    if let Some(reason) = super::origin::cross_site_refusal(req.method(), &path, req.headers()) {
        tracing::warn!(%path, %reason, "refused");
        return json_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", &reason);
    }
    req.headers_mut().remove(REGISTRY_USER_HEADER);
    let identity = identify(&state, req.headers()).await;
    if area == Area::Public {
        if let Some(id) = identity {
            req.extensions_mut().insert(id);
        }
        return next.run(req).await;
    }
    let Some(identity) = identity else {
        return match area {
            Area::Page => {
                let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                Redirect::to(&format!("/login?next={}", url_escape(target))).into_response()
            }
            _ => {
                let mut resp =
                    json_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "sign in, or send an API key or token");
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sextant\""));
                resp
            }
        };
    };
    if area == Area::Registry && !registry_read_only(req.method(), &path) && !identity.role.can_write() {
        return json_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!("user '{}' has role {}, which may not change the registry", identity.name, identity.role.as_str()),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&identity.name) {
        req.headers_mut().insert(REGISTRY_USER_HEADER, v);
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

fn url_escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// Only same-site paths may follow a login, so the form cannot be used to bounce elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains("://") { next } else { "/" }
}

fn login_again(reason: &str, next: &str) -> Response {
    let target = format!("/login?error={}&next={}", url_escape(reason), url_escape(safe_next(next)));
    Redirect::to(&target).into_response()
}

/// `POST /auth/login` from the login form: checks the password, sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    let by_addr = state.login_limiter.check_key(&format!("ip:{}", peer.ip())).is_ok();
    let by_user = state.login_limiter.check_key(&format!("user:{}", form.username)).is_ok();
    if !(by_addr && by_user) {
        tracing::warn!(user = %form.username, %peer, "login rate limit hit");
        let mut resp = login_again("Too many attempts. Wait a minute, then try again.", &form.next);
        *resp.status_mut() = StatusCode::SEE_OTHER;
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return resp;
    }
    match state.accounts.verify_password(form.username.trim(), &form.password).await {
        Ok(identity) => match state.accounts.create_session(&identity.name).await {
            Ok(token) => {
                tracing::info!(user = %identity.name, "signed in");
                let secure = if state.options.secure_cookies { "; Secure" } else { "" };
                let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200{secure}");
                let mut resp = Redirect::to(safe_next(&form.next)).into_response();
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
                resp
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("could not start a session: {e}")).into_response(),
        },
        Err(e) => {
            tracing::info!(user = %form.username, "sign-in refused: {e}");
            login_again("Wrong user name or password.", &form.next)
        }
    }
}

/// `POST /auth/logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.accounts.end_session(token).await;
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sextant_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

#[derive(Deserialize)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/token`: a JWT for a user name and password, for programs that cannot keep a key.
pub async fn issue_token(State(state): State<AppState>, Json(req): Json<TokenRequest>) -> Response {
    if state.login_limiter.check_key(&format!("user:{}", req.username)).is_err() {
        return json_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "too many attempts; wait a minute");
    }
    match state.accounts.verify_password(&req.username, &req.password).await {
        Ok(identity) => match state.accounts.issue_jwt(&identity).await {
            Ok(token) => Json(
                json!({ "access_token": token, "token_type": "Bearer", "expires_in": super::accounts::JWT_TTL_SECS }),
            )
            .into_response(),
            Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
        },
        Err(_) => json_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "wrong user name or password"),
    }
}

/// The identity the middleware attached, for handlers and server functions.
pub fn require_role(identity: Option<&Identity>, role: Role) -> Result<&Identity, String> {
    match identity {
        None => Err("sign in first".into()),
        Some(id) if id.role >= role => Ok(id),
        Some(id) => Err(format!("user '{}' has role {}; this needs {}", id.name, id.role.as_str(), role.as_str())),
    }
}

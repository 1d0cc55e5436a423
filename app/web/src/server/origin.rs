//! The same-origin rule for what browsers send on their own: a request that could change state
//! (or open the change feed) and that carries a browser's `Origin` must come from this server's
//! pages, so another site (another port on localhost included) cannot act with the session cookie.

use axum::http::{HeaderMap, Method, header};

/// Why the request must be refused, or `None` when it may go on. Requests without `Origin`
/// (programs: the MLflow client, curl) and with a bearer token (which a foreign page cannot
/// attach without knowing it) are not browser-forgeable and pass.
pub fn cross_site_refusal(method: &Method, path: &str, headers: &HeaderMap) -> Option<String> {
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    // A WebSocket handshake is a GET, but the feed it opens is read with the cookie's rights.
    if !(changes_state || path == "/ws") {
        return None;
    }
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if bearer {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("?");
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let hosts = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()));
    let mut served_as = Vec::new();
    for host in hosts {
        if authority.eq_ignore_ascii_case(host.trim()) {
            return None;
        }
        served_as.push(host.to_owned());
    }
    Some(format!(
        "cross-site request refused: it comes from {origin}, not from this server's pages ({})",
        if served_as.is_empty() { "no Host header".to_owned() } else { served_as.join(", ") }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_form_posted_from_another_port_is_refused_and_our_own_pages_pass() {
        let foreign = headers(&[("host", "localhost:3000"), ("origin", "http://localhost:8000")]);
        let reason = cross_site_refusal(&Method::POST, "/sfn/move_alias", &foreign).unwrap();
        assert!(reason.contains("http://localhost:8000") && reason.contains("localhost:3000"), "{reason}");
        let own = headers(&[("host", "localhost:3000"), ("origin", "http://localhost:3000")]);
        assert_eq!(cross_site_refusal(&Method::POST, "/sfn/move_alias", &own), None);
        let proxied = headers(&[
            ("host", "sextant-web:3000"),
            ("x-forwarded-host", "sextant.example.com"),
            ("origin", "https://sextant.example.com"),
        ]);
        assert_eq!(cross_site_refusal(&Method::DELETE, "/api/v1/keys/3", &proxied), None);
    }

    #[test]
    fn the_change_feed_is_guarded_but_reading_pages_and_programs_are_not() {
        let foreign = headers(&[("host", "localhost:3000"), ("origin", "http://evil.example")]);
        assert!(cross_site_refusal(&Method::GET, "/ws", &foreign).is_some());
        assert_eq!(cross_site_refusal(&Method::GET, "/experiments/1", &foreign), None);
        let program = headers(&[("host", "localhost:3000")]);
        assert_eq!(cross_site_refusal(&Method::POST, "/api/2.0/mlflow/runs/create", &program), None);
        let with_token = headers(&[
            ("host", "localhost:3000"),
            ("origin", "http://dashboard.example"),
            ("authorization", "Bearer sxk_abc"),
        ]);
        assert_eq!(cross_site_refusal(&Method::POST, "/api/v1/backtests", &with_token), None);
        // Basic credentials a browser cached are sent by it on its own, so they do not exempt.
        let basic = headers(&[
            ("host", "localhost:3000"),
            ("origin", "http://evil.example"),
            ("authorization", "Basic YWRtaW46cHc="),
        ]);
        assert!(cross_site_refusal(&Method::POST, "/api/2.0/mlflow/runs/create", &basic).is_some());
    }
}

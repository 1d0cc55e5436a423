//! What a server function reads from its request: the app state and the caller's identity,
//! with the role check every state-changing function makes before it does anything.

use leptos::prelude::*;

use super::AppState;
use crate::types::{Identity, Role};

pub fn state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("the server state is missing"))
}

/// The caller, as the authentication middleware resolved it.
pub fn identity() -> Result<Identity, ServerFnError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Identity>().cloned())
        .ok_or_else(|| ServerFnError::new("sign in first"))
}

/// The caller, when their role is at least `role`; otherwise a 403 and nothing happens.
pub fn require(role: Role) -> Result<Identity, ServerFnError> {
    let id = identity()?;
    if id.role >= role {
        return Ok(id);
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::FORBIDDEN);
    }
    Err(ServerFnError::new(format!(
        "Permission denied: user '{}' has role {}; this needs {}.",
        id.name,
        id.role.as_str(),
        role.as_str()
    )))
}

/// A store error as the page shows it.
pub fn failed(e: impl std::fmt::Display) -> ServerFnError {
    ServerFnError::new(e.to_string())
}

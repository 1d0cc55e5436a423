//! The web control plane: Leptos pages and server functions shared by the server (feature `ssr`)
//! and the browser (feature `hydrate`), and, on the server, the axum app that serves them.

pub mod api;
pub mod app;
pub mod lttb;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod types;

/// The browser's entry point: attaches the reactive app to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    mark_hydrated();
}

// Lets tests (and people in the console) see that the page is interactive.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen(
    inline_js = "export function mark_hydrated() { window.__sextant_hydrated = true; }"
)]
extern "C" {
    fn mark_hydrated();
}

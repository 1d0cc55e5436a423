//! The page shell, the navigation and the route table of the control plane.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::api::whoami;
use crate::pages::*;

const STYLE: &str = include_str!("style.css");

/// The HTML document around the app: the server renders it, the browser hydrates `<body>`.
pub fn shell(options: leptos::config::LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <style>{STYLE}</style>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|text| format!("{text} · Sextant")/>
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <Nav/>
            <main id="main" tabindex="-1">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments") view=ExperimentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments/:id") view=ExperimentPage ssr=SsrMode::Async/>
                    <Route path=path!("/runs/:id") view=RunPage ssr=SsrMode::Async/>
                    <Route path=path!("/compare") view=ComparePage ssr=SsrMode::Async/>
                    <Route path=path!("/models") view=ModelsPage ssr=SsrMode::Async/>
                    <Route path=path!("/models/:name") view=ModelPage ssr=SsrMode::Async/>
                    <Route path=path!("/backtests") view=BacktestsPage ssr=SsrMode::Async/>
                    <Route path=path!("/backtests/:id") view=BacktestPage ssr=SsrMode::Async/>
                    <Route path=path!("/data") view=DataPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <header class="top">
            <nav aria-label="Main">
                <A href="/" attr:class="brand">"Sextant"</A>
                <A href="/experiments">"Experiments"</A>
                <A href="/backtests">"Backtests"</A>
                <A href="/models">"Models"</A>
                <A href="/data">"Data"</A>
            </nav>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(id) => view! {
                            <form class="account" method="post" action="/auth/logout">
                                <a class="who" href="/account">{id.name.clone()} " (" {id.role.as_str()} ")"</a>
                                <button type="submit">"Sign out"</button>
                            </form>
                        }.into_any(),
                        Err(_) => view! { <a class="account" href="/login">"Sign in"</a> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <p><a href="/">"Back to the overview"</a></p>
    }
}

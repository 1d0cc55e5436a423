//! The sign-in page: a plain form posted to `/auth/login`, so it works before (and without)
//! the page's script; errors come back in the query string and are announced.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error");
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    view! {
        <Title text="Sign in"/>
        <section class="login">
            <h1>"Sign in to Sextant"</h1>
            {move || error().map(|e| view! { <p class="error" role="alert" id="login-error">{e}</p> })}
            <form method="post" action="/auth/login">
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="username">"User name"</label>
                    <input id="username" name="username" autocomplete="username" required autofocus/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required/>
                </div>
                <button class="primary" type="submit">"Sign in"</button>
            </form>
        </section>
    }
}

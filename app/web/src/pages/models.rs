//! The model registry: models with their champions, one model's versions and aliases, and the
//! promotion form (move an alias, confirmed) with the history of who moved what when.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::live::{field, on_change_events};
use super::{failure, fmt_ms, loading};
use crate::api::{MoveAlias, get_model, list_models, whoami};

#[component]
pub fn ModelsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_models());
    view! {
        <Title text="Models"/>
        <h1>"Model registry"</h1>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(models) if models.is_empty() => view! { <p class="muted">"No registered models yet. Training registers one; so does "
                        <code>"mlflow.register_model"</code> " against this server."</p> }.into_any(),
                    Ok(models) => view! {
                        <table>
                            <thead><tr><th scope="col">"Model"</th><th scope="col">"Champion"</th><th scope="col">"Aliases"</th><th scope="col">"Latest version"</th><th scope="col">"Updated"</th></tr></thead>
                            <tbody>{models.into_iter().map(|m| {
                                let href = format!("/models/{}", m.name);
                                let aliases = m.aliases.iter().map(|(a, v)| format!("@{a} → v{v}")).collect::<Vec<_>>().join(", ");
                                view! { <tr><td><a href=href>{m.name.clone()}</a></td>
                                    <td>{m.champion().map(|v| format!("v{v}")).unwrap_or_else(|| "none".into())}</td>
                                    <td>{aliases}</td>
                                    <td>{m.latest_version.map(|v| format!("v{v}")).unwrap_or_default()}</td>
                                    <td>{fmt_ms(m.updated_ms)}</td></tr> }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let move_alias = ServerAction::<MoveAlias>::new();
    // Re-read the model after every move, so the table and history show it at once.
    let data = Resource::new(move || (name(), move_alias.version().get()), |(n, _)| get_model(n));
    let me = Resource::new(|| (), |_| whoami());
    // Another user's alias move shows here without a reload.
    on_change_events(
        move |event| {
            field(event, "kind") == "alias"
                && params.read_untracked().get("name").is_some_and(|n| field(event, "model") == n)
        },
        move || data.refetch(),
    );
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                let can_write = me.await.map(|m| m.role.can_write()).unwrap_or(false);
                match data.await {
                    Err(e) => failure(e),
                    Ok(d) => {
                        let model_name = d.model.name.clone();
                        let versions = d.versions.iter().map(|v| {
                            let run_href = format!("/runs/{}", v.run_id);
                            view! { <tr>
                                <td>{format!("v{}", v.version)}</td>
                                <td>{v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(" ")}</td>
                                <td>{if v.run_id.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else { view! { <a href=run_href>{v.run_id.clone()}</a> }.into_any() }}</td>
                                <td><code>{v.source.clone()}</code></td>
                                <td>{v.user.clone()}</td>
                                <td>{fmt_ms(v.created_ms)}</td>
                            </tr> }
                        }).collect_view();
                        let history = if d.history.is_empty() {
                            view! { <p class="muted">"No alias has been moved yet."</p> }.into_any()
                        } else {
                            view! { <table id="alias-history">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Alias"</th><th scope="col">"From"</th><th scope="col">"To"</th></tr></thead>
                                <tbody>{d.history.iter().map(|h| view! { <tr>
                                    <td>{fmt_ms(h.at_ms)}</td><td>{h.by.clone()}</td><td>{format!("@{}", h.alias)}</td>
                                    <td>{h.previous.clone().map(|v| format!("v{v}")).unwrap_or_else(|| "—".into())}</td>
                                    <td>{h.version.clone().map(|v| format!("v{v}")).unwrap_or_else(|| "removed".into())}</td>
                                </tr> }).collect_view()}</tbody>
                            </table> }.into_any()
                        };
                        let options = d.versions.iter().map(|v| view! { <option value=v.version.to_string()>{format!("v{}", v.version)}</option> }).collect_view();
                        let promote = if can_write {
                            view! {
                                <ActionForm action=move_alias attr:id="promote-form">
                                    <input type="hidden" name="name" value=model_name.clone()/>
                                    <div class="field"><label for="alias">"Alias"</label>
                                        <input id="alias" name="alias" value="champion" required pattern="[A-Za-z0-9_\\-]+"/></div>
                                    <div class="field"><label for="version">"Version"</label>
                                        <select id="version" name="version">{options}</select></div>
                                    <div class="field"><input type="checkbox" id="confirm" name="confirm" value="yes" required/>
                                        <label for="confirm" style="display:inline">" I confirm: serving and live trading will load this version under the alias."</label></div>
                                    <button class="primary" type="submit">"Move alias"</button>
                                </ActionForm>
                                {move || move_alias.value().get().map(|r| match r {
                                    Ok(()) => view! { <p class="ok" role="status" id="promote-result">"Alias moved."</p> }.into_any(),
                                    Err(e) => view! { <p class="error" role="alert" id="promote-result">{e.to_string()}</p> }.into_any(),
                                })}
                            }.into_any()
                        } else {
                            view! { <p class="muted" id="promote-denied">"Your role (viewer) can look but not promote: ask a researcher or an administrator."</p> }.into_any()
                        };
                        view! {
                            <Title text=format!("Model {}", d.model.name)/>
                            <p><a href="/models">"← Models"</a></p>
                            <h1>{format!("Model: {}", d.model.name)}</h1>
                            <p>{d.model.description.clone()}</p>
                            <h2>"Versions"</h2>
                            <table id="versions">
                                <thead><tr><th scope="col">"Version"</th><th scope="col">"Aliases"</th><th scope="col">"Run"</th><th scope="col">"Source"</th><th scope="col">"By"</th><th scope="col">"Created"</th></tr></thead>
                                <tbody>{versions}</tbody>
                            </table>
                            <h2>"Promote or roll back"</h2>
                            {promote}
                            <h2>"Alias history"</h2>
                            {history}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

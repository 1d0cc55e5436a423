//! The overview dashboard: recent runs, latest backtests, models with their champion, and the
//! catalog's size; later issues add live-trading and monitoring panels here.

use leptos::prelude::*;
use leptos_meta::Title;

use super::live::{field, on_change_events};
use super::{failure, fmt_ms, fmt_num, loading};
use crate::api::get_overview;
use crate::types::RunRow;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_overview());
    // New, finished or deleted runs, backtests and champions show as they happen; metric points
    // logged to a run do not change what this page lists.
    on_change_events(
        |event| match field(event, "kind") {
            "run" => field(event, "change") != "logged",
            "backtest" | "alias" => true,
            _ => false,
        },
        move || data.refetch(),
    );
    view! {
        <Title text="Overview"/>
        <h1>"Overview"</h1>
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(o) => view! {
                        <p class="muted">{format!("{} experiments · {} datasets in the catalog", o.experiments, o.datasets)}</p>
                        <div class="cards">
                            <section class="card" aria-labelledby="recent-runs">
                                <h2 id="recent-runs">"Recent runs"</h2>
                                <RunList runs=o.recent_runs metric=""/>
                            </section>
                            <section class="card" aria-labelledby="latest-backtests">
                                <h2 id="latest-backtests">"Latest backtests"</h2>
                                <RunList runs=o.backtests metric="return_pct"/>
                                <p><a href="/backtests">"Start a backtest"</a></p>
                            </section>
                            <section class="card" aria-labelledby="models">
                                <h2 id="models">"Models"</h2>
                                {if o.models.is_empty() { view! { <p class="muted">"No registered models yet."</p> }.into_any() } else {
                                    view! {
                                        <table>
                                            <thead><tr><th scope="col">"Model"</th><th scope="col">"Champion"</th><th scope="col">"Latest"</th></tr></thead>
                                            <tbody>
                                                {o.models.into_iter().map(|m| {
                                                    let href = format!("/models/{}", m.name);
                                                    let champion = m.champion().map(|v| format!("v{v}")).unwrap_or_else(|| "none".into());
                                                    view! { <tr><td><a href=href>{m.name.clone()}</a></td><td>{champion}</td>
                                                        <td>{m.latest_version.map(|v| format!("v{v}")).unwrap_or_default()}</td></tr> }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                            <section class="card" aria-labelledby="live">
                                <h2 id="live">"Live trading and monitoring"</h2>
                                <p class="muted">"No deployments yet: live and paper trading panels appear here once a model is deployed."</p>
                            </section>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunList(runs: Vec<RunRow>, metric: &'static str) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted">"None yet."</p> }.into_any();
    }
    view! {
        <ul>
            {runs.into_iter().map(|r| {
                let href = if metric == "return_pct" { format!("/backtests/{}", r.run_id) } else { format!("/runs/{}", r.run_id) };
                let figure = r.metrics.get(metric).map(|v| format!(" · {}: {}", metric, fmt_num(*v))).unwrap_or_default();
                view! { <li><a href=href>{r.name.clone()}</a> " " <span class="muted">{format!("{} · {}{}", r.status, fmt_ms(r.start_ms), figure)}</span></li> }
            }).collect_view()}
        </ul>
    }.into_any()
}

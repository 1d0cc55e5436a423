//! One run: its params, tags, lineage, metric charts over steps and artifacts to download, kept
//! current while a program is still logging to it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::chart::LineChart;
use super::live::{field, on_change_events};
use super::{failure, fmt_ms, fmt_num, loading};
use crate::api::get_run;

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, get_run);
    // Metrics logged by a training loop, a status change or a rename show without a reload.
    on_change_events(
        move |event| {
            field(event, "kind") == "run"
                && params.read_untracked().get("id").is_some_and(|id| field(event, "run_id") == id)
        },
        move || data.refetch(),
    );
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(d) => {
                        let run = d.run.clone();
                        let exp_href = format!("/experiments/{}", run.experiment_id);
                        let params = run.params.iter().map(|(k, v)| view! { <tr><th scope="row">{k.clone()}</th><td>{v.clone()}</td></tr> }).collect_view();
                        let metrics = run.metrics.iter().map(|(k, v)| view! { <tr><th scope="row">{k.clone()}</th><td class="num">{fmt_num(*v)}</td></tr> }).collect_view();
                        let tags = d.tags.iter().map(|(k, v)| view! { <tr><th scope="row">{k.clone()}</th><td>{v.clone()}</td></tr> }).collect_view();
                        let lineage = if d.lineage.is_empty() {
                            view! { <p class="muted">"This run recorded no lineage (data hash, feature spec, code version, seed)."</p> }.into_any()
                        } else {
                            view! { <table><tbody>{d.lineage.iter().map(|(k, v)| {
                                let cell = if k == "Parent run" {
                                    let href = format!("/runs/{v}");
                                    view! { <a href=href>{v.clone()}</a> }.into_any()
                                } else { view! { <code>{v.clone()}</code> }.into_any() };
                                view! { <tr><th scope="row">{k.clone()}</th><td>{cell}</td></tr> }
                            }).collect_view()}</tbody></table> }.into_any()
                        };
                        let artifacts = if d.artifacts.is_empty() {
                            view! { <p class="muted">"No artifacts."</p> }.into_any()
                        } else {
                            view! { <ul>{d.artifacts.iter().map(|a| view! {
                                <li><a href=a.download_url.clone() download>{a.path.clone()}</a> <span class="muted">{format!(" ({} bytes)", a.size)}</span></li>
                            }).collect_view()}</ul> }.into_any()
                        };
                        let charts = d.series.iter().filter(|s| s.total > 1).map(|s| view! { <LineChart title=s.name.clone() series=vec![s.clone()]/> }).collect_view();
                        view! {
                            <Title text=format!("Run {}", run.name)/>
                            <p><a href=exp_href>{format!("← {}", d.experiment_name)}</a></p>
                            <h1>{format!("Run: {}", run.name)}</h1>
                            <p class="muted">{format!("{} · by {} · started {}{}", run.status, run.user, fmt_ms(run.start_ms),
                                run.end_ms.map(|e| format!(" · ended {}", fmt_ms(e))).unwrap_or_default())}</p>
                            <p class="muted">"Run ID " <code>{run.run_id.clone()}</code></p>
                            <div class="cards">
                                <section class="card"><h2>"Parameters"</h2><table><tbody>{params}</tbody></table></section>
                                <section class="card"><h2>"Metrics (latest)"</h2><table><tbody>{metrics}</tbody></table></section>
                                <section class="card"><h2>"Lineage"</h2>{lineage}</section>
                                <section class="card"><h2>"Artifacts"</h2>{artifacts}</section>
                            </div>
                            <h2>"Metric history"</h2>
                            {charts}
                            <details><summary>"Tags"</summary><table><tbody>{tags}</tbody></table></details>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

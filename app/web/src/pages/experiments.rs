//! Experiments: the searchable list, one experiment's runs as a sortable, filterable table with
//! chosen param and metric columns, and the comparison of selected runs. Everything lives in
//! the URL (links and GET forms), so views can be bookmarked and work with the keyboard alone;
//! the runs table follows new runs and metrics live.

use std::collections::BTreeSet;
use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::chart::LineChart;
use super::live::{field, on_change_events};
use super::{failure, fmt_ms, fmt_num, loading};
use crate::api::{compare_runs, get_runs_table, list_experiments};
use crate::types::{RunRow, RunsTable};

#[component]
pub fn ExperimentsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let data = Resource::new(q, list_experiments);
    view! {
        <Title text="Experiments"/>
        <h1>"Experiments"</h1>
        <form class="inline" method="get" action="/experiments" role="search">
            <div><label for="q">"Name contains"</label><input id="q" name="q" type="search" prop:value=q/></div>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No experiments match."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table>
                            <caption class="muted">{format!("{} experiments", rows.len())}</caption>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"ID"</th><th scope="col">"Last update"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|e| {
                                    let href = format!("/experiments/{}", e.id);
                                    view! { <tr><td><a href=href>{e.name.clone()}</a></td><td>{e.id.clone()}</td><td>{fmt_ms(e.last_update_ms)}</td></tr> }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The query string of the runs table with one value replaced (sorting links keep the filter).
fn with_order(filter: &str, columns: &[String], order: &str) -> String {
    let mut q = url_pairs(&[("filter", filter), ("order", order)]);
    for c in columns {
        q.push_str(&format!("&col={}", encode(c)));
    }
    q
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// What the runs table shows: experiment, filter, order and page, as the URL gives them.
type TableKey = (String, String, String, usize);

#[component]
pub fn ExperimentPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let filter = move || query.read().get("filter").unwrap_or_default();
    let order = move || query.read().get("order").unwrap_or_default();
    let chosen = move || query.read().get_all("col").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(0);
    let key = move || -> TableKey { (id(), filter(), order(), page()) };
    let data = Resource::new(key, |(id, f, o, p)| get_runs_table(id, f, o, p));
    // Runs a sweep or a training program writes show without a reload. Only the rows, their
    // count and the pager are replaced: the filter being typed, the columns being chosen and the
    // runs picked for comparison stay as the user left them (a refetch of `data` would rebuild
    // the forms). A refresh is kept with the view it was asked for, so one that lands after the
    // user moved to another page or order is not shown there.
    let refreshed: RwSignal<Option<(TableKey, RunsTable)>> = RwSignal::new(None);
    let picked: RwSignal<BTreeSet<String>> = RwSignal::new(BTreeSet::new());
    on_change_events(
        move |event| {
            field(event, "kind") == "run"
                && params.read_untracked().get("id").is_some_and(|id| field(event, "experiment_id") == id)
        },
        move || {
            let asked = untrack(key);
            leptos::task::spawn_local(async move {
                let (id, f, o, p) = asked.clone();
                if let Ok(table) = get_runs_table(id, f, o, p).await {
                    refreshed.set(Some((asked, table)));
                }
            });
        },
    );
    let live = Signal::derive(move || {
        let now = key();
        refreshed.with(|r| r.as_ref().filter(|(k, _)| *k == now).map(|(_, t)| t.clone()))
    });
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(table) => view! { <RunsView table live picked filter=filter() order=order() chosen=chosen()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunsView(
    table: RunsTable,
    /// A newer copy of the same view, pushed by a change event.
    live: Signal<Option<RunsTable>>,
    /// Runs ticked for comparison, kept across live refreshes.
    picked: RwSignal<BTreeSet<String>>,
    filter: String,
    order: String,
    chosen: Vec<String>,
) -> impl IntoView {
    let exp = table.experiment.clone();
    // Chosen columns are `params.x` / `metrics.y`; none chosen shows the first few of each.
    let (param_cols, metric_cols): (Vec<String>, Vec<String>) = if chosen.is_empty() {
        (table.param_keys.iter().take(6).cloned().collect(), table.metric_keys.iter().take(6).cloned().collect())
    } else {
        (
            chosen.iter().filter_map(|c| c.strip_prefix("params.")).map(str::to_string).collect(),
            chosen.iter().filter_map(|c| c.strip_prefix("metrics.")).map(str::to_string).collect(),
        )
    };
    let columns: Vec<String> = param_cols
        .iter()
        .map(|k| format!("params.{k}"))
        .chain(metric_cols.iter().map(|k| format!("metrics.{k}")))
        .collect();
    let base = format!("/experiments/{}", exp.id);
    let header = |key: String, label: String, numeric: bool| {
        let (next, sort) = if order == format!("{key} DESC") {
            (format!("{key} ASC"), "descending")
        } else if order == format!("{key} ASC") || order == key {
            (format!("{key} DESC"), "ascending")
        } else {
            (format!("{key} DESC"), "none")
        };
        let href = format!("{base}?{}", with_order(&filter, &columns, &next));
        let class = if numeric { "num" } else { "" };
        view! { <th scope="col" class=class aria-sort=sort><a href=href>{label}</a></th> }
    };
    let headers = param_cols
        .iter()
        .map(|k| header(format!("params.{k}"), k.clone(), false))
        .chain(metric_cols.iter().map(|k| header(format!("metrics.{k}"), k.clone(), true)))
        .collect_view();
    let column_choices = table
        .param_keys
        .iter()
        .map(|k| format!("params.{k}"))
        .chain(table.metric_keys.iter().map(|k| format!("metrics.{k}")))
        .map(|c| {
            let checked = columns.contains(&c);
            let cid = format!("col-{c}");
            view! { <span><input type="checkbox" name="col" value=c.clone() id=cid.clone() checked=checked/><label for=cid style="display:inline">{c.clone()}</label></span> " " }
        })
        .collect_view();
    let filter_error = table.filter_error.clone();
    // Computed once per refresh (and not at all when a refetch brings the same table back).
    let current = Memo::new(move |_| live.get().unwrap_or_else(|| table.clone()));
    let cells = Arc::new((param_cols, metric_cols));
    // Keyed by the row's whole content: an unchanged row keeps its element (and the keyboard
    // focus on its checkbox) when another run changes.
    let rows = view! {
        <For each=move || current.with(|t| t.runs.clone()) key=row_key children=move |r| run_row(r, &cells, picked)/>
    };
    let pager = {
        let (filter, order) = (filter.clone(), order.clone());
        move || {
            let (page, total, page_size) = current.with(|t| (t.page, t.total, t.page_size));
            let pages = total.div_ceil(page_size.max(1)).max(1);
            let page_link = |p: usize, label: &'static str| {
                let href = format!("{base}?{}&page={p}", with_order(&filter, &columns, &order));
                view! { <a href=href>{label}</a> }
            };
            view! {
                <nav aria-label="Pages of runs" class="pager">
                    {(page > 0).then(|| page_link(page - 1, "← Previous"))}
                    {format!(" Page {} of {} ", page + 1, pages)}
                    {(page + 1 < pages).then(|| page_link(page + 1, "Next →"))}
                </nav>
            }
        }
    };
    let form_action = format!("/experiments/{}", exp.id);
    view! {
        <Title text=format!("Experiment {}", exp.name)/>
        <h1>{format!("Experiment: {}", exp.name)}</h1>
        <form class="inline" method="get" action=form_action role="search">
            <div>
                <label for="filter">"Filter (MLflow search syntax)"</label>
                <input id="filter" name="filter" size="60" prop:value=filter placeholder="metrics.accuracy > 0.9 AND params.model = 'cnn'"
                    aria-describedby="filter-error"/>
                {filter_error.map(|e| view! { <p class="field-error" id="filter-error" role="alert">{e}</p> })}
            </div>
            <input type="hidden" name="order" value=order/>
            <details>
                <summary>"Columns"</summary>
                {column_choices}
            </details>
            <button type="submit">"Apply"</button>
        </form>
        <form id="compare-form" method="get" action="/compare">
            <button type="submit">"Compare selected runs"</button>
        </form>
        <table>
            <caption class="muted" aria-live="polite">{move || format!("{} runs", current.with(|t| t.total))}</caption>
            <thead><tr><th scope="col">"Select"</th><th scope="col">"Run"</th><th scope="col">"Status"</th><th scope="col">"Started"</th>{headers}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {pager}
    }
}

fn row_key(run: &RunRow) -> String {
    serde_json::to_string(run).unwrap_or_else(|_| run.run_id.clone())
}

/// One run's row: the compare checkbox, its name, status, start and the chosen columns.
fn run_row(r: RunRow, cells: &(Vec<String>, Vec<String>), picked: RwSignal<BTreeSet<String>>) -> impl IntoView + use<> {
    let (param_cols, metric_cols) = cells;
    let href = format!("/runs/{}", r.run_id);
    let checkbox_id = format!("pick-{}", r.run_id);
    let pcells =
        param_cols.iter().map(|k| view! { <td>{r.params.get(k).cloned().unwrap_or_default()}</td> }).collect_view();
    let mcells = metric_cols
        .iter()
        .map(|k| view! { <td class="num">{r.metrics.get(k).map(|v| fmt_num(*v)).unwrap_or_default()}</td> })
        .collect_view();
    let run_id = r.run_id.clone();
    let is_picked = {
        let run_id = run_id.clone();
        move || picked.with(|p| p.contains(&run_id))
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        picked.update(|p| {
            if on {
                p.insert(run_id.clone());
            } else {
                p.remove(&run_id);
            }
        });
    };
    view! {
        <tr>
            <td><input type="checkbox" name="run" value=r.run_id.clone() id=checkbox_id.clone() form="compare-form"
                    prop:checked=is_picked on:change=on_pick/>
                <label for=checkbox_id class="skip">{format!("Select {}", r.name)}</label></td>
            <td><a href=href>{r.name.clone()}</a></td>
            <td>{r.status.clone()}</td>
            <td>{fmt_ms(r.start_ms)}</td>
            {pcells}
            {mcells}
        </tr>
    }
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || query.read().get_all("run").unwrap_or_default();
    let data = Resource::new(ids, compare_runs);
    view! {
        <Title text="Compare runs"/>
        <h1>"Compare runs"</h1>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(c) if c.runs.len() < 2 => view! { <p class="error" role="alert">"Select at least two runs to compare."</p> }.into_any(),
                    Ok(c) => {
                        let head = c.runs.iter().map(|r| {
                            let href = format!("/runs/{}", r.run_id);
                            view! { <th scope="col"><a href=href>{r.name.clone()}</a></th> }
                        }).collect_view();
                        let rows = c.param_keys.iter().map(|k| {
                            let cells = c.runs.iter().map(|r| view! { <td>{r.params.get(k).cloned().unwrap_or_default()}</td> }).collect_view();
                            view! { <tr><th scope="row">{k.clone()}</th>{cells}</tr> }
                        }).collect_view();
                        let metric_rows = c.metrics.iter().map(|(k, _)| {
                            let cells = c.runs.iter().map(|r| view! { <td class="num">{r.metrics.get(k).map(|v| fmt_num(*v)).unwrap_or_default()}</td> }).collect_view();
                            view! { <tr><th scope="row">{k.clone()}</th>{cells}</tr> }
                        }).collect_view();
                        let charts = c.metrics.into_iter().map(|(k, s)| view! { <LineChart title=k series=s/> }).collect_view();
                        view! {
                            <h2>"Parameters"</h2>
                            <table><thead><tr><th scope="col">"Param"</th>{head.clone()}</tr></thead><tbody>{rows}</tbody></table>
                            <h2>"Latest metrics"</h2>
                            <table><thead><tr><th scope="col">"Metric"</th>{head}</tr></thead><tbody>{metric_rows}</tbody></table>
                            <h2>"Metric curves"</h2>
                            {charts}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

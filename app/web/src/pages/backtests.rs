//! Backtests: the form that starts one (validated on the server, reasons shown by the fields),
//! the list of past backtests, and one backtest's progress, charts, metrics and trade log.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::chart::{LineChart, XAxis};
use super::live::{field, on_change_events};
use super::{failure, fmt_ms, fmt_num, loading};
use crate::api::{StartBacktest, get_backtest, get_backtest_choices, get_overview};

#[component]
pub fn BacktestsPage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| get_backtest_choices());
    let recent = Resource::new(|| (), |_| get_overview());
    on_change_events(|event| field(event, "kind") == "backtest", move || recent.refetch());
    let start = ServerAction::<StartBacktest>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(outcome)) = start.value().get()
            && let Some(id) = outcome.run_id
        {
            navigate(&format!("/backtests/{id}"), Default::default());
        }
    });
    let error_for = move |field: &'static str| {
        move || {
            start.value().get().and_then(|r| r.ok()).and_then(|o| o.error_for(field)).map(|e| {
                let id = format!("{field}-error");
                view! { <p class="field-error" id=id role="alert">{e}</p> }
            })
        }
    };
    view! {
        <Title text="Backtests"/>
        <h1>"Backtests"</h1>
        <section class="card" aria-labelledby="new-backtest">
            <h2 id="new-backtest">"New backtest"</h2>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match choices.await {
                        Err(e) => failure(e),
                        Ok(c) => view! {
                            <ActionForm action=start attr:id="backtest-form">
                                <div class="field"><label for="symbol">"Instrument"</label>
                                    <select id="symbol" name="symbol" aria-describedby="symbol-error">
                                        {c.symbols.iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                                    </select>{error_for("symbol")}</div>
                                <div class="field"><label for="timeframe">"Timeframe (empty: the finest stored)"</label>
                                    <input id="timeframe" name="timeframe" placeholder="1d" aria-describedby="timeframe-error"/>{error_for("timeframe")}</div>
                                <div class="field"><label for="strategy">"Strategy"</label>
                                    <select id="strategy" name="strategy" aria-describedby="strategy-error">
                                        {c.strategies.iter().map(|s| view! { <option value=s.clone() selected=s == "sma_cross">{s.clone()}</option> }).collect_view()}
                                    </select>{error_for("strategy")}</div>
                                <div class="field"><label for="params">"Parameters (key=value, comma separated)"</label>
                                    <input id="params" name="params" value="fast=10, slow=20" size="40" aria-describedby="params-error"/>{error_for("params")}</div>
                                <div class="field"><label for="cash">"Cash"</label>
                                    <input id="cash" name="cash" value="10000" inputmode="decimal" required aria-describedby="cash-error"/>{error_for("cash")}</div>
                                <div class="field"><label for="commission">"Commission (fraction, 0.002 = 0.2%)"</label>
                                    <input id="commission" name="commission" value="0.002" inputmode="decimal" aria-describedby="commission-error"/>{error_for("commission")}</div>
                                <button class="primary" type="submit">"Run backtest"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
            {move || start.pending().get().then(|| view! { <p role="status">"Starting…"</p> })}
            {move || start.value().get().and_then(|r| r.err()).map(failure)}
        </section>
        <h2>"Latest backtests"</h2>
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match recent.await {
                    Err(e) => failure(e),
                    Ok(o) => view! { <ul>{o.backtests.into_iter().map(|r| {
                        let href = format!("/backtests/{}", r.run_id);
                        view! { <li><a href=href>{r.name.clone()}</a> <span class="muted">{format!(" {} · {}", r.status, fmt_ms(r.start_ms))}</span></li> }
                    }).collect_view()}</ul>
                    <p><a href="/experiments">"All backtests are runs of the Backtests experiment."</a></p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn BacktestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, get_backtest);
    on_change_events(
        move |event| {
            field(event, "kind") == "backtest"
                && params.read_untracked().get("id").is_some_and(|id| field(event, "run_id") == id)
        },
        move || data.refetch(),
    );
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok((d, stage)) => {
                        let run = d.run.clone();
                        let running = run.status == "RUNNING";
                        let metrics = run.metrics.iter().map(|(k, v)| view! { <tr><th scope="row">{k.clone()}</th><td class="num">{fmt_num(*v)}</td></tr> }).collect_view();
                        let params = run.params.iter().map(|(k, v)| view! { <tr><th scope="row">{k.clone()}</th><td>{v.clone()}</td></tr> }).collect_view();
                        let trades = d.trades.iter().map(|t| view! { <tr>
                            <td>{t.side.clone()}</td><td class="num">{t.size.clone()}</td><td>{t.entry_time.clone()}</td><td class="num">{t.entry_price.clone()}</td>
                            <td>{t.exit_time.clone()}</td><td class="num">{t.exit_price.clone()}</td><td class="num">{t.pnl.clone()}</td></tr> }).collect_view();
                        let run_href = format!("/runs/{}", run.run_id);
                        view! {
                            <Title text=format!("Backtest {}", run.name)/>
                            <p><a href="/backtests">"← Backtests"</a></p>
                            <h1>{format!("Backtest: {}", run.name)}</h1>
                            <p role="status" id="backtest-stage">{if stage.text.eq_ignore_ascii_case(&run.status) {
                                format!("Status: {}", run.status)
                            } else {
                                format!("Status: {} ({})", run.status, stage.text)
                            }}</p>
                            {stage.progress.map(|(done, total)| view! {
                                <progress id="backtest-progress" max=total value=done aria-label="Simulation progress">
                                    {format!("{done} of {total} bars")}</progress>
                            })}
                            {running.then(|| view! {
                                <p class="muted">"This page follows the backtest live until it ends."</p>
                                // Without JavaScript nothing follows the run: the browser reloads the page instead.
                                // Its content is set as HTML: with scripting on, a browser keeps it as text,
                                // which hydration must not walk as an element.
                                <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"#></noscript>
                            })}
                            {d.equity.clone().map(|s| view! { <LineChart title="Equity" series=vec![s] x_axis=XAxis::EpochSeconds/> })}
                            {d.drawdown.clone().map(|s| view! { <LineChart title="Drawdown (%)" series=vec![s] x_axis=XAxis::EpochSeconds/> })}
                            <div class="cards">
                                <section class="card"><h2>"Metrics"</h2><table id="backtest-metrics"><tbody>{metrics}</tbody></table></section>
                                <section class="card"><h2>"Parameters"</h2><table><tbody>{params}</tbody></table>
                                    <p><a href=run_href>"The tracked run"</a>
                                    {d.report_url.clone().map(|u| view! { " · " <a href=u>"Full HTML report"</a> })}</p></section>
                            </div>
                            <h2>{format!("Trades ({} of {})", d.trades.len(), d.total_trades)}</h2>
                            <table id="trades">
                                <thead><tr><th scope="col">"Side"</th><th scope="col" class="num">"Size"</th><th scope="col">"Entry"</th><th scope="col" class="num">"Entry price"</th>
                                    <th scope="col">"Exit"</th><th scope="col" class="num">"Exit price"</th><th scope="col" class="num">"P&L"</th></tr></thead>
                                <tbody>{trades}</tbody>
                            </table>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

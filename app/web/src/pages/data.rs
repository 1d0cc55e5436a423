//! The data catalog: every instrument and timeframe stored, its range, size and quality.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{failure, loading};
use crate::api::list_datasets;

#[component]
pub fn DataPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_datasets());
    view! {
        <Title text="Data"/>
        <h1>"Data catalog"</h1>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => failure(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"The catalog is empty: " <code>"sextant data import FILE"</code> " adds bars."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table id="datasets">
                            <thead><tr><th scope="col">"Symbol"</th><th scope="col">"Timeframe"</th><th scope="col" class="num">"Bars"</th>
                                <th scope="col">"First"</th><th scope="col">"Last"</th><th scope="col">"Quality"</th><th scope="col">"Report"</th></tr></thead>
                            <tbody>{rows.into_iter().map(|d| view! { <tr>
                                <td>{d.symbol}</td><td>{d.timeframe}</td><td class="num">{d.bars}</td><td>{d.first}</td><td>{d.last}</td><td>{d.quality}</td>
                                <td>{match d.report {
                                    Some(text) => view! { <details><summary>"Show"</summary><pre class="report">{text}</pre></details> }.into_any(),
                                    None => view! { <span class="muted">"none recorded"</span> }.into_any(),
                                }}</td>
                            </tr> }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

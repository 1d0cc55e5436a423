//! Line charts drawn as SVG on the page: several series on shared axes, with labelled extremes,
//! a legend and a text alternative. Series arrive already downsampled (LTTB) by the server.

use leptos::prelude::*;

use super::{fmt_ms, fmt_num};
use crate::types::Series;

const COLORS: [&str; 8] = ["#0a58ca", "#d9480f", "#2f9e44", "#ae3ec9", "#e8590c", "#1098ad", "#5c940d", "#c2255c"];
const W: f64 = 720.0;
const H: f64 = 260.0;
const PAD_L: f64 = 70.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 34.0;

/// How the x values read: steps (training) or epoch seconds (market time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XAxis {
    #[default]
    Step,
    EpochSeconds,
}

fn x_label(x: f64, axis: XAxis) -> String {
    match axis {
        XAxis::Step => fmt_num(x),
        XAxis::EpochSeconds => fmt_ms((x * 1000.0) as i64)[..10].to_string(),
    }
}

#[component]
pub fn LineChart(#[prop(into)] title: String, series: Vec<Series>, #[prop(optional)] x_axis: XAxis) -> impl IntoView {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let empty = x0 > x1;
    if empty {
        return view! { <p class="muted">{format!("{title}: no points logged")}</p> }.into_any();
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        y1 = y0 + 1.0;
    }
    let sx = move |x: f64| PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R);
    let sy = move |y: f64| PAD_T + (1.0 - (y - y0) / (y1 - y0)) * (H - PAD_T - PAD_B);
    let summary = series
        .iter()
        .map(|s| {
            let last = s.points.last().map(|p| fmt_num(p.1)).unwrap_or_default();
            format!("{}: {} points, last {}", s.name, s.total, last)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let label = format!("{title}. {summary}. Range {} to {}.", fmt_num(y0), fmt_num(y1));
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let points =
                s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect::<Vec<_>>().join(" ");
            view! { <polyline points=points fill="none" stroke=COLORS[i % COLORS.len()] stroke-width="1.5"/> }
        })
        .collect_view();
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let style = format!("color:{}", COLORS[i % COLORS.len()]);
            let text = if s.total > s.points.len() {
                format!("■ {} ({} of {} points shown)", s.name, s.points.len(), s.total)
            } else {
                format!("■ {}", s.name)
            };
            view! { <span style=style>{text}</span> }
        })
        .collect_view();
    let view_box = format!("0 0 {W} {H}");
    view! {
        <figure class="chart">
            <figcaption><strong>{title.clone()}</strong></figcaption>
            <svg class="chart" viewBox=view_box width="100%" style="max-width:720px" role="img" aria-label=label>
                <line x1=PAD_L y1=PAD_T x2=PAD_L y2=H - PAD_B stroke="#8c959f"/>
                <line x1=PAD_L y1=H - PAD_B x2=W - PAD_R y2=H - PAD_B stroke="#8c959f"/>
                <text x=PAD_L - 6.0 y=PAD_T + 10.0 text-anchor="end" font-size="11">{fmt_num(y1)}</text>
                <text x=PAD_L - 6.0 y=H - PAD_B text-anchor="end" font-size="11">{fmt_num(y0)}</text>
                <text x=PAD_L y=H - 12.0 font-size="11">{x_label(x0, x_axis)}</text>
                <text x=W - PAD_R y=H - 12.0 text-anchor="end" font-size="11">{x_label(x1, x_axis)}</text>
                {lines}
            </svg>
            <div class="legend">{legend}</div>
        </figure>
    }
    .into_any()
}

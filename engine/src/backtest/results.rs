//! What a backtest returns: the equity curve, fills, order log (rejections included), closed
//! trades, statistics and attribution, serialisable to JSON and renderable as an HTML report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::account::Account;
use super::engine::{BacktestConfig, BacktestError, PreparedBars};
use super::metrics::{EquitySample, Metrics, MetricsInput, TradeSide, TradeSummary, metrics};
use super::order::{FillEvent, OrderEvent};
use super::significance::{
    BootstrapInterval, BootstrapMethod, BootstrapSpec, DrawdownBasis, PermutationTest, SignificanceError,
    Summary as AttributionSummary, attribute, bootstrap_sharpe, drawdown_permutation_test, probabilistic_sharpe,
    sign_flip_test,
};

/// The significance of a backtest's result (see [`BacktestResult::significance`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignificanceReport {
    pub sharpe_per_bar: BootstrapInterval,
    pub probabilistic_sharpe_vs_zero: f64,
    pub mean_return_sign_flip: PermutationTest,
    /// None with fewer than two closed trades.
    pub trade_order_drawdown: Option<PermutationTest>,
}
use crate::domain::{Decimal, Timestamp};

/// An open position at the end of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenPosition {
    pub symbol: String,
    pub quantity: Decimal,
    pub entry_price: Decimal,
    pub entry_bar: usize,
    pub last_price: Decimal,
}

/// P&L of closed trades by instrument, by side and by signal tag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub by_instrument: BTreeMap<String, AttributionSummary>,
    pub by_side: BTreeMap<String, AttributionSummary>,
    pub by_signal: BTreeMap<String, AttributionSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BacktestResult {
    pub strategy: String,
    pub config: BacktestConfig,
    pub metrics: Metrics,
    pub final_equity: Decimal,
    pub cash: BTreeMap<String, Decimal>,
    pub commissions: Decimal,
    /// Stock-loan fees paid on short positions (in cash and equity, and in the P&L of the trades
    /// that held them as `financing`; not in `commissions`).
    #[serde(default)]
    pub borrow_fees: Decimal,
    pub equity_curve: Vec<EquitySample>,
    pub trades: Vec<TradeSummary>,
    pub open_positions: Vec<OpenPosition>,
    pub fills: Vec<FillEvent>,
    pub order_log: Vec<OrderEvent>,
    pub attribution: Attribution,
}

impl BacktestResult {
    pub(crate) fn assemble(
        config: &BacktestConfig,
        data: &[PreparedBars],
        strategy: (&str, usize),
        (account, order_log): (Account, Vec<OrderEvent>),
        fills: Vec<FillEvent>,
        equity_curve: Vec<EquitySample>,
    ) -> Result<Self, BacktestError> {
        let (strategy, warmup) = strategy;
        let benchmark = config.benchmark.unwrap_or(0);
        // The benchmark's close at each step of the equity curve (as of that time).
        let bench_close: Option<Vec<f64>> = data.get(benchmark).map(|b| {
            let mut j = 0;
            equity_curve
                .iter()
                .map(|s| {
                    while j + 1 < b.ts.len() && b.ts[j + 1] <= s.ts_nanos {
                        j += 1;
                    }
                    if b.ts[j] <= s.ts_nanos { b.close[j] } else { f64::NAN }
                })
                .collect()
        });
        let trades = account.closed_trades().to_vec();
        let input = MetricsInput {
            equity: &equity_curve,
            trades: &trades,
            benchmark_close: bench_close.as_deref(),
            first_trading_bar: warmup.min(equity_curve.len().saturating_sub(1)),
            risk_free_rate: config.risk_free_rate,
            // As backtesting.py reports it: the commissions of closed trades (the result's
            // `commissions` field holds every fee charged, open positions' included).
            commissions_total: trades.iter().map(|t| t.commissions).sum(),
            traded_notional: account.traded_notional().to_f64().unwrap_or(0.0),
        };
        let metrics = metrics(&input).map_err(|e| BacktestError::Metrics(e.to_string()))?;
        let open_positions = account
            .open_lots()
            .into_iter()
            .map(|(id, quantity, entry_price, entry_bar)| OpenPosition {
                symbol: config.instruments[id].symbol.clone(),
                quantity,
                entry_price,
                entry_bar,
                last_price: account.last_price(id),
            })
            .collect();
        let key = |f: &dyn Fn(&TradeSummary) -> String| -> Vec<(String, f64)> {
            trades.iter().map(|t| (f(t), t.pnl)).collect()
        };
        let attribution = Attribution {
            by_instrument: attribute(&key(&|t| t.symbol.clone())),
            by_side: attribute(&key(&|t| match t.side {
                TradeSide::Long => "long".into(),
                TradeSide::Short => "short".into(),
            })),
            by_signal: attribute(&key(&|t| t.tag.clone().unwrap_or_else(|| "untagged".into()))),
        };
        Ok(Self {
            strategy: strategy.to_string(),
            config: config.clone(),
            metrics,
            final_equity: account.equity()?,
            cash: account.cash_balances().clone(),
            commissions: account.commissions(),
            borrow_fees: account.borrow_fees(),
            equity_curve,
            trades,
            open_positions,
            fills,
            order_log,
            attribution,
        })
    }

    /// How much to trust the result: a bootstrap interval of the per-bar Sharpe ratio (stationary
    /// blocks of mean length 20, so autocorrelation is kept), the probabilistic Sharpe ratio
    /// against 0, a sign-flip test of the mean bar return, and a trade-order permutation test of the
    /// maximum drawdown. Seeded: the same seed gives the same report.
    pub fn significance(&self, resamples: usize, seed: u64) -> Result<SignificanceReport, SignificanceError> {
        let returns: Vec<f64> = self.equity_curve.windows(2).map(|w| w[1].equity / w[0].equity - 1.0).collect();
        let spec = BootstrapSpec::new(BootstrapMethod::Stationary { mean_block_len: 20.0 }, resamples, seed);
        let trade_returns: Vec<f64> = self.trades.iter().map(TradeSummary::return_fraction).collect();
        Ok(SignificanceReport {
            sharpe_per_bar: bootstrap_sharpe(&returns, &spec)?,
            probabilistic_sharpe_vs_zero: probabilistic_sharpe(&returns, 0.0)?,
            mean_return_sign_flip: sign_flip_test(&returns, resamples, seed)?,
            trade_order_drawdown: if trade_returns.len() >= 2 {
                Some(drawdown_permutation_test(&trade_returns, DrawdownBasis::Compounded, resamples, seed)?)
            } else {
                None
            },
        })
    }

    /// The fills of the orders margin calls placed to close positions.
    pub fn margin_call_fills(&self) -> impl Iterator<Item = &FillEvent> {
        self.fills.iter().filter(|f| f.tag.as_deref() == Some(super::venue::MARGIN_CALL_TAG))
    }

    /// Orders the venue refused, with the reasons.
    pub fn rejections(&self) -> impl Iterator<Item = &OrderEvent> {
        self.order_log.iter().filter(|e| matches!(e.status, super::order::OrderStatus::Rejected { .. }))
    }

    /// A self-contained HTML report: statistics, equity and drawdown charts (inline SVG), trades,
    /// rejected orders and, when given, the significance of the result.
    pub fn to_html(&self, significance: Option<&SignificanceReport>) -> String {
        let mut html = String::new();
        let title = format!("{} backtest", escape(&self.strategy));
        let _ = write!(
            html,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
             body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:13px}}\
             td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}th{{text-align:left}}\
             .grid{{display:grid;grid-template-columns:340px 1fr;gap:2em}}svg{{background:#fafafa;border:1px solid #eee}}\
             </style></head><body><h1>{title}</h1>"
        );
        let _ = write!(html, "<div class=\"grid\"><div><h2>Statistics</h2><table>");
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&self.metrics) {
            for (k, v) in map {
                let shown = match v {
                    serde_json::Value::Number(n) => n.as_f64().map(|x| format!("{x:.4}")).unwrap_or_default(),
                    serde_json::Value::Null => "—".into(),
                    other => escape(&other.to_string()),
                };
                let _ = write!(html, "<tr><th>{}</th><td>{shown}</td></tr>", escape(&k));
            }
        }
        if !self.borrow_fees.is_zero() {
            let _ = write!(html, "<tr><th>Borrow fees</th><td>{:.2}</td></tr>", self.borrow_fees);
        }
        let liquidations = self.margin_call_fills().count();
        if liquidations > 0 {
            let _ = write!(html, "<tr><th>Margin-call fills</th><td>{liquidations}</td></tr>");
        }
        let _ = write!(html, "</table></div><div><h2>Equity</h2>{}", self.svg_equity());
        let _ = write!(html, "<h2>Drawdown</h2>{}</div></div>", self.svg_drawdown());
        if let Some(s) = significance {
            html.push_str(&significance_html(s));
        }
        let _ = write!(
            html,
            "<h2>Trades ({})</h2><table><tr><th>symbol</th><th>side</th><th>size</th><th>entry</th><th>exit</th>\
             <th>entry price</th><th>exit price</th><th>P&amp;L</th><th>signal</th></tr>",
            self.trades.len()
        );
        for t in &self.trades {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td><td>{}</td></tr>",
                escape(&t.symbol),
                t.side,
                t.size,
                Timestamp::from_nanos(t.entry_ts_nanos),
                Timestamp::from_nanos(t.exit_ts_nanos),
                t.entry_price,
                t.exit_price,
                t.pnl,
                escape(t.tag.as_deref().unwrap_or(""))
            );
        }
        html.push_str("</table>");
        let rejected: Vec<&OrderEvent> = self.rejections().collect();
        if !rejected.is_empty() {
            let _ = write!(html, "<h2>Rejected orders ({})</h2><table>", rejected.len());
            for e in rejected {
                if let super::order::OrderStatus::Rejected { reason } = &e.status {
                    let _ = write!(
                        html,
                        "<tr><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td></tr>",
                        e.ts,
                        escape(&e.symbol),
                        e.side,
                        escape(reason)
                    );
                }
            }
            html.push_str("</table>");
        }
        html.push_str("</body></html>");
        html
    }

    fn svg_equity(&self) -> String {
        let ys: Vec<f64> = self.equity_curve.iter().map(|s| s.equity).collect();
        svg_line(&ys, "#1f6feb")
    }

    fn svg_drawdown(&self) -> String {
        let mut peak = f64::MIN;
        let dd: Vec<f64> = self
            .equity_curve
            .iter()
            .map(|s| {
                peak = peak.max(s.equity);
                if peak > 0.0 { s.equity / peak - 1.0 } else { 0.0 }
            })
            .collect();
        svg_line(&dd, "#d1242f")
    }
}

/// The significance section of the report: what each test says, with its figure.
fn significance_html(s: &SignificanceReport) -> String {
    let b = &s.sharpe_per_bar;
    let mut rows = vec![
        (
            "Sharpe ratio per bar".to_string(),
            format!(
                "{:.4} [{:.4}, {:.4}] at {:.0}% (stationary bootstrap, {} resamples)",
                b.estimate,
                b.lower,
                b.upper,
                b.confidence * 100.0,
                b.resamples
            ),
        ),
        ("Probabilistic Sharpe ratio vs 0".to_string(), format!("{:.4}", s.probabilistic_sharpe_vs_zero)),
        (
            "Mean bar return above 0 (sign-flip test)".to_string(),
            format!(
                "p = {:.4} ({} of {} flips as good)",
                s.mean_return_sign_flip.p_value,
                s.mean_return_sign_flip.as_extreme,
                s.mean_return_sign_flip.permutations
            ),
        ),
    ];
    if let Some(t) = &s.trade_order_drawdown {
        rows.push((
            "Max drawdown vs random trade orders".to_string(),
            format!("{:.4}, p = {:.4} ({} of {} orders as good)", t.observed, t.p_value, t.as_extreme, t.permutations),
        ));
    }
    let mut html = String::from("<h2>Significance</h2><table>");
    for (k, v) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(&k), escape(&v));
    }
    html.push_str("</table>");
    html
}

/// A polyline of at most 1,000 points, scaled into an 800×220 box.
fn svg_line(ys: &[f64], colour: &str) -> String {
    let (w, h) = (800.0, 220.0);
    if ys.is_empty() {
        return String::new();
    }
    let step = ys.len().div_ceil(1000).max(1);
    let pts: Vec<(usize, f64)> = ys.iter().copied().enumerate().step_by(step).filter(|(_, y)| y.is_finite()).collect();
    let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = (ys.len().max(2) - 1) as f64;
    let mut path = String::new();
    for (i, y) in pts {
        let _ = write!(path, "{:.1},{:.1} ", i as f64 / n * w, h - (y - lo) / span * h);
    }
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{path}\"/>\
         <text x=\"4\" y=\"12\" font-size=\"11\">{hi:.2}</text><text x=\"4\" y=\"{}\" font-size=\"11\">{lo:.2}</text></svg>",
        h - 4.0
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

//! Parameter grids run in parallel on every core, and walk-forward analysis: re-fit on each
//! training window by grid search, trade the following test window, stitch the out-of-sample runs.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::engine::{BacktestConfig, BacktestError, PreparedBars, run};
use super::results::BacktestResult;
use super::significance::{DeflatedSharpe, deflated_sharpe, sharpe_ratio};
use super::strategies::{self, Params};
use super::validation::{WalkForwardSpec, walk_forward};

/// Returns of the equity curve from bar to bar.
fn bar_returns(r: &BacktestResult) -> Vec<f64> {
    r.equity_curve.windows(2).map(|w| w[1].equity / w[0].equity - 1.0).collect()
}
use crate::data::series::BarSeries;

/// What a grid search maximises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    #[default]
    Sharpe,
    Return,
    Calmar,
}

impl Objective {
    fn score(self, r: &BacktestResult) -> f64 {
        let v = match self {
            Self::Sharpe => r.metrics.sharpe_ratio,
            Self::Return => r.metrics.return_pct,
            Self::Calmar => r.metrics.calmar_ratio,
        };
        if v.is_finite() { v } else { f64::NEG_INFINITY }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error(transparent)]
    Backtest(#[from] BacktestError),
    #[error(transparent)]
    Strategy(#[from] strategies::StrategyError),
    #[error("walk-forward: {0}")]
    Validation(#[from] super::validation::ValidationError),
    #[error("the grid is empty: give at least one value for each parameter")]
    EmptyGrid,
}

/// Every combination of the grid's values, in a stable order.
pub fn combinations(grid: &[(String, Vec<String>)]) -> Vec<Params> {
    let mut out = vec![Params::new()];
    for (key, values) in grid {
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    out
}

/// One grid point's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridPoint {
    pub params: Params,
    pub score: f64,
    pub sharpe: f64,
    /// Sharpe ratio of the per-bar returns (NaN when flat): the trials' spread deflates the best.
    pub sharpe_per_bar: f64,
    pub return_pct: f64,
    pub max_drawdown_pct: f64,
    pub trades: usize,
}

/// Runs every combination in parallel (rayon, every core); results in grid order.
pub fn grid_search(
    config: &BacktestConfig,
    data: &[PreparedBars],
    strategy: &str,
    grid: &[(String, Vec<String>)],
    objective: Objective,
) -> Result<Vec<GridPoint>, GridError> {
    let combos = combinations(grid);
    if combos.is_empty() || grid.iter().any(|(_, v)| v.is_empty()) {
        return Err(GridError::EmptyGrid);
    }
    combos
        .into_par_iter()
        .map(|params| {
            let mut s = strategies::build(strategy, &params)?;
            let r = run(config, data, s.as_mut())?;
            Ok(GridPoint {
                score: objective.score(&r),
                sharpe: r.metrics.sharpe_ratio,
                sharpe_per_bar: sharpe_ratio(&bar_returns(&r)).unwrap_or(f64::NAN),
                return_pct: r.metrics.return_pct,
                max_drawdown_pct: r.metrics.max_drawdown_pct,
                trades: r.trades.len(),
                params,
            })
        })
        .collect()
}

/// One walk-forward window: the parameters chosen in-sample and the out-of-sample result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WalkForwardWindow {
    pub train: std::ops::Range<usize>,
    pub test: std::ops::Range<usize>,
    pub chosen: Params,
    pub in_sample_score: f64,
    /// The chosen configuration's in-sample Sharpe deflated for the number of configurations
    /// tried (Bailey & López de Prado); None when it cannot be computed (a flat grid).
    pub deflated: Option<DeflatedSharpe>,
    pub out_of_sample: BacktestResult,
}

/// Slices every series to the time span of `range` in the first series' bars.
fn slice(data: &[PreparedBars], range: std::ops::Range<usize>) -> Vec<PreparedBars> {
    let first = &data[0];
    let (from, to) = (first.ts[range.start], first.ts[range.end - 1]);
    data.iter()
        .map(|d| {
            let rows: Vec<usize> = (0..d.len()).filter(|&i| d.ts[i] >= from && d.ts[i] <= to).collect();
            let mut bars: BarSeries = d.bars.clone();
            bars.take_rows(&rows);
            PreparedBars::new(bars)
        })
        .collect()
}

/// Walk-forward analysis over the first series' bars (the others are cut to the same times).
/// The re-fit hook is the grid search: each training window picks the best parameters by
/// `objective`, which then trade the test window from a fresh account, warmed up on the bars
/// just before it.
pub fn walk_forward_analysis(
    config: &BacktestConfig,
    data: &[PreparedBars],
    strategy: &str,
    grid: &[(String, Vec<String>)],
    spec: WalkForwardSpec,
    objective: Objective,
) -> Result<Vec<WalkForwardWindow>, GridError> {
    let n = data.first().map(PreparedBars::len).unwrap_or(0);
    let splits = walk_forward(n, spec)?;
    let mut windows = Vec::with_capacity(splits.len());
    for split in splits {
        let (Some(train), Some(test)) = (split.train.first().cloned(), split.test.first().cloned()) else { continue };
        let train = train.start..split.train.last().map(|r| r.end).unwrap_or(train.end);
        let train_data = slice(data, train.clone());
        let points = grid_search(config, &train_data, strategy, grid, objective)?;
        let trials: Vec<f64> = points.iter().map(|p| p.sharpe_per_bar).filter(|s| s.is_finite()).collect();
        let best = points.into_iter().max_by(|a, b| a.score.total_cmp(&b.score)).ok_or(GridError::EmptyGrid)?;
        let deflated = {
            let mut s = strategies::build(strategy, &best.params)?;
            let in_sample = run(config, &train_data, s.as_mut())?;
            deflated_sharpe(&bar_returns(&in_sample), &trials).ok()
        };
        let mut s = strategies::build(strategy, &best.params)?;
        // The strategy sees the bars just before the test window to warm its indicators up, so
        // its first possible signal falls on the window's first bar (as a live strategy would be
        // warmed up); it cannot trade before, and the equity there stays flat.
        let from = test.start.saturating_sub(s.warmup() + 1);
        let out_of_sample = run(config, &slice(data, from..test.end), s.as_mut())?;
        tracing::info!(?train, ?test, params = ?best.params, score = best.score, "walk-forward window");
        windows.push(WalkForwardWindow {
            train,
            test,
            chosen: best.params,
            in_sample_score: best.score,
            deflated,
            out_of_sample,
        });
    }
    Ok(windows)
}

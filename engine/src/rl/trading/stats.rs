//! Statistics of one finished episode: return, Sharpe, Sortino, Calmar, maximum drawdown,
//! turnover and trades, annualised with the data's bars per year.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeStats {
    pub steps: usize,
    /// Final equity / initial equity − 1.
    pub total_return: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    /// Largest fall from a peak, as a positive fraction.
    pub max_drawdown: f64,
    /// Traded notional / mean equity.
    pub turnover: f64,
    /// Fills (each order's execution counts once).
    pub trades: usize,
    /// Orders the venue refused (margin, lot size).
    pub rejected_orders: usize,
    /// Ended by the drawdown stop-out.
    pub stopped_out: bool,
    pub final_equity: f64,
}

impl EpisodeStats {
    /// From the equity marked at the start and after each step.
    pub fn from_equity(
        equity: &[f64],
        periods_per_year: f64,
        traded_notional: f64,
        trades: usize,
        rejected_orders: usize,
        stopped_out: bool,
    ) -> Self {
        let n = equity.len().saturating_sub(1);
        let returns: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let mean = returns.iter().sum::<f64>() / n.max(1) as f64;
        let std =
            if n > 1 { (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        // Downside deviation against zero over all periods, as empyrical computes it.
        let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt();
        let (mut peak, mut max_dd) = (f64::MIN, 0.0f64);
        for e in equity {
            peak = peak.max(*e);
            if peak > 0.0 {
                max_dd = max_dd.max(1.0 - e / peak);
            }
        }
        let first = equity.first().copied().unwrap_or(0.0);
        let last = equity.last().copied().unwrap_or(0.0);
        let total_return = if first > 0.0 { last / first - 1.0 } else { 0.0 };
        let years = n as f64 / periods_per_year;
        let cagr = if years > 0.0 && first > 0.0 && last > 0.0 { (last / first).powf(1.0 / years) - 1.0 } else { -1.0 };
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        let mean_equity = equity.iter().sum::<f64>() / equity.len().max(1) as f64;
        Self {
            steps: n,
            total_return,
            sharpe: ratio(mean, std) * periods_per_year.sqrt(),
            sortino: ratio(mean, downside) * periods_per_year.sqrt(),
            calmar: ratio(cagr, max_dd),
            max_drawdown: max_dd,
            turnover: ratio(traded_notional, mean_equity),
            trades,
            rejected_orders,
            stopped_out,
            final_equity: last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_known_equity_curve() {
        let equity = [100.0, 110.0, 99.0, 108.9];
        let s = EpisodeStats::from_equity(&equity, 252.0, 50.0, 3, 0, false);
        let r = [0.1, -0.1, 0.1];
        let mean = 0.1 / 3.0;
        let std = (r.iter().map(|x: &f64| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((s.total_return - 0.089).abs() < 1e-12);
        assert!((s.sharpe - mean / std * 252f64.sqrt()).abs() < 1e-9);
        assert!((s.sortino - mean / (0.01f64 / 3.0).sqrt() * 252f64.sqrt()).abs() < 1e-9);
        assert!((s.max_drawdown - 0.1).abs() < 1e-12);
        let cagr = 1.089f64.powf(252.0 / 3.0) - 1.0;
        assert!((s.calmar - cagr / 0.1).abs() < 1e-6 * cagr);
        assert!((s.turnover - 50.0 / (417.9 / 4.0)).abs() < 1e-12);
        assert_eq!((s.steps, s.trades), (3, 3));
    }
}

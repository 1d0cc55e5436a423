//! The reward: a weighted sum of log return, differential Sharpe ratio (Moody and Saffell
//! 1998), downside, drawdown, transaction-cost and holding penalties.

use super::config::RewardConfig;

/// What one step did to the portfolio, as the reward terms read it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepOutcome {
    pub equity_before: f64,
    pub equity_after: f64,
    /// Fees and slippage paid in the step, in the account currency.
    pub costs: f64,
    /// Sum of |weights| held over the step.
    pub gross_exposure: f64,
    /// Drawdown from the peak equity before and after the step (fractions).
    pub drawdown_before: f64,
    pub drawdown_after: f64,
}

/// The reward terms' running state (the differential Sharpe ratio's moving moments).
#[derive(Clone, Debug, Default)]
pub struct RewardState {
    mean: f64,
    second_moment: f64,
}

impl RewardState {
    pub fn reward(&mut self, config: &RewardConfig, step: &StepOutcome) -> f64 {
        let simple = if step.equity_before > 0.0 { step.equity_after / step.equity_before - 1.0 } else { 0.0 };
        let log_return = if step.equity_before > 0.0 && step.equity_after > 0.0 {
            (step.equity_after / step.equity_before).ln()
        } else {
            // Ruin: the largest loss a log return can say without being infinite.
            -10.0
        };
        let mut reward = config.log_return * log_return;
        if config.differential_sharpe != 0.0 {
            reward += config.differential_sharpe * self.differential_sharpe(simple, config.sharpe_eta);
        }
        reward -= config.downside * log_return.min(0.0).powi(2);
        reward -= config.drawdown * (step.drawdown_after - step.drawdown_before).max(0.0);
        if step.equity_before > 0.0 {
            reward -= config.transaction_cost * step.costs / step.equity_before;
        }
        reward -= config.holding * step.gross_exposure;
        reward
    }

    /// D_t = (B ΔA − ½ A ΔB) / (B − A²)^{3/2} with A, B the moving first and second moments of
    /// the returns before this one; zero until the variance is positive.
    fn differential_sharpe(&mut self, r: f64, eta: f64) -> f64 {
        let (a, b) = (self.mean, self.second_moment);
        let delta_a = r - a;
        let delta_b = r * r - b;
        let variance = b - a * a;
        let d = if variance > 1e-18 { (b * delta_a - 0.5 * a * delta_b) / variance.powf(1.5) } else { 0.0 };
        self.mean += eta * delta_a;
        self.second_moment += eta * delta_b;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(before: f64, after: f64) -> StepOutcome {
        StepOutcome { equity_before: before, equity_after: after, ..StepOutcome::default() }
    }

    #[test]
    fn log_return_and_penalties_add_with_their_weights() {
        let config = RewardConfig {
            log_return: 1.0,
            downside: 2.0,
            drawdown: 3.0,
            transaction_cost: 4.0,
            holding: 0.5,
            ..RewardConfig::default()
        };
        let step = StepOutcome {
            equity_before: 100.0,
            equity_after: 90.0,
            costs: 1.0,
            gross_exposure: 0.8,
            drawdown_before: 0.05,
            drawdown_after: 0.145,
        };
        let lr = (0.9f64).ln();
        let expected = lr - 2.0 * lr * lr - 3.0 * 0.095 - 4.0 * 0.01 - 0.5 * 0.8;
        let got = RewardState::default().reward(&config, &step);
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    }

    #[test]
    fn differential_sharpe_is_moody_saffells_recursion() {
        // Returns alternating around a positive mean: once the moments are warm, a return
        // above the mean raises the Sharpe ratio (D > 0) and one below lowers it.
        let config = RewardConfig { log_return: 0.0, differential_sharpe: 1.0, sharpe_eta: 0.1, ..Default::default() };
        let mut state = RewardState::default();
        let mut equity = 100.0;
        let mut last = 0.0;
        for k in 0..200 {
            let r = if k % 2 == 0 { 0.02 } else { -0.01 };
            last = state.reward(&config, &outcome(equity, equity * (1.0 + r)));
            equity *= 1.0 + r;
        }
        assert!(last < 0.0, "a -1% return after warm-up lowers the Sharpe ratio: {last}");
        let up = state.reward(&config, &outcome(equity, equity * 1.02));
        assert!(up > 0.0);
        // The first-order expansion: S_t ≈ S_{t-1} + η D_t for the moving Sharpe ratio A/√(B−A²).
        let (a, b) = (state.mean, state.second_moment);
        let s_before = a / (b - a * a).sqrt();
        let r = 0.015;
        let d = state.differential_sharpe(r, 0.001);
        let (a2, b2) = (state.mean, state.second_moment);
        let s_after = a2 / (b2 - a2 * a2).sqrt();
        assert!(
            ((s_after - s_before) / 0.001 - d).abs() < 0.05 * d.abs().max(1.0),
            "{} vs {d}",
            (s_after - s_before) / 0.001
        );
    }
}

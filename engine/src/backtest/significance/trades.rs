//! Trade-level significance: a permutation test of the drawdown of the trade order, a sign-flip test of the
//! mean return, and P&L attribution by key (instrument, side, signal).

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{SignificanceError, check_series, invalid, stream_rng};

/// How trade results chain into an equity curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DrawdownBasis {
    /// Trade returns compounded from equity 1; drawdown as a fraction of the running peak.
    Compounded,
    /// Trade P&Ls summed from 0; drawdown in P&L units below the running peak.
    Additive,
}

fn max_drawdown_unchecked(trades: &[f64], basis: DrawdownBasis) -> f64 {
    let (mut equity, mut peak, mut worst) = match basis {
        DrawdownBasis::Compounded => (1.0, 1.0, 0.0f64),
        DrawdownBasis::Additive => (0.0, 0.0, 0.0f64),
    };
    for t in trades {
        match basis {
            DrawdownBasis::Compounded => {
                equity *= 1.0 + t;
                peak = f64::max(peak, equity);
                worst = worst.max(1.0 - equity / peak);
            }
            DrawdownBasis::Additive => {
                equity += t;
                peak = f64::max(peak, equity);
                worst = worst.max(peak - equity);
            }
        }
    }
    worst
}

fn check_trades(trades: &[f64], basis: DrawdownBasis) -> Result<(), SignificanceError> {
    check_series("trades", trades, 1)?;
    if basis == DrawdownBasis::Compounded
        && let Some(index) = trades.iter().position(|&r| r < -1.0)
    {
        return Err(invalid("trades", format!("return {} at {index} loses more than 100%", trades[index])));
    }
    Ok(())
}

/// Maximum drawdown of the equity curve built from `trades` in order (a non-negative number; 0.25 = 25%).
pub fn max_drawdown(trades: &[f64], basis: DrawdownBasis) -> Result<f64, SignificanceError> {
    check_trades(trades, basis)?;
    Ok(max_drawdown_unchecked(trades, basis))
}

/// Result of a Monte Carlo permutation test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PermutationTest {
    /// The statistic of the data as given.
    pub observed: f64,
    /// `(1 + as_extreme) / (1 + permutations)`.
    pub p_value: f64,
    /// Random arrangements whose statistic was at least as good as the observed one.
    pub as_extreme: usize,
    pub permutations: usize,
}

/// Ties between arrangements that are equal on paper differ by rounding; count those as "as extreme".
fn tie_tolerance(observed: f64) -> f64 {
    1e-12 * observed.abs().max(1e-300)
}

fn check_permutations(permutations: usize) -> Result<(), SignificanceError> {
    if permutations == 0 { Err(invalid("permutations", "must be at least 1")) } else { Ok(()) }
}

/// Is the observed maximum drawdown of the trade sequence better (smaller) than chance? Shuffles the trade
/// order `permutations` times; the p-value is the share of orders with a drawdown no larger than observed.
/// Compounded final equity does not depend on the order, so drawdown is the order-sensitive statistic.
pub fn drawdown_permutation_test(
    trades: &[f64],
    basis: DrawdownBasis,
    permutations: usize,
    seed: u64,
) -> Result<PermutationTest, SignificanceError> {
    check_trades(trades, basis)?;
    check_permutations(permutations)?;
    let observed = max_drawdown_unchecked(trades, basis);
    let limit = observed + tie_tolerance(observed);
    let as_extreme = (0..permutations)
        .into_par_iter()
        .map_init(
            || trades.to_vec(),
            |buf, b| {
                buf.copy_from_slice(trades);
                buf.shuffle(&mut stream_rng(seed, b));
                usize::from(max_drawdown_unchecked(buf, basis) <= limit)
            },
        )
        .sum::<usize>();
    Ok(PermutationTest {
        observed,
        p_value: (1 + as_extreme) as f64 / (1 + permutations) as f64,
        as_extreme,
        permutations,
    })
}

/// Sign-flip randomisation test of `mean(returns) > 0`: under the null the returns are symmetric around 0, so
/// each sign is flipped with probability 1/2; the p-value is the share of flips with a mean at least as large.
pub fn sign_flip_test(returns: &[f64], permutations: usize, seed: u64) -> Result<PermutationTest, SignificanceError> {
    check_series("returns", returns, 1)?;
    check_permutations(permutations)?;
    let n = returns.len() as f64;
    let observed = returns.iter().sum::<f64>() / n;
    let limit = observed - tie_tolerance(observed);
    let as_extreme = (0..permutations)
        .into_par_iter()
        .map(|b| {
            let mut rng = stream_rng(seed, b);
            let flipped = returns.iter().map(|&r| if rng.random::<bool>() { -r } else { r }).sum::<f64>() / n;
            usize::from(flipped >= limit)
        })
        .sum::<usize>();
    Ok(PermutationTest {
        observed,
        p_value: (1 + as_extreme) as f64 / (1 + permutations) as f64,
        as_extreme,
        permutations,
    })
}

// ------------------------------------------------------------------------------------------------ attribution

/// P&L summary of one attribution key (an instrument, a side, a signal...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    /// Total P&L.
    pub pnl: f64,
    /// Mean P&L per trade (the expectancy).
    pub mean: f64,
    /// Trades with P&L > 0 and < 0; flat trades count in neither.
    pub wins: usize,
    pub losses: usize,
    /// `wins / count`.
    pub win_rate: f64,
    /// Sum of the winning P&Ls.
    pub gross_profit: f64,
    /// Sum of the losing P&Ls' magnitudes (non-negative).
    pub gross_loss: f64,
    /// `gross_profit / gross_loss`; `None` without losing trades.
    pub profit_factor: Option<f64>,
    pub best: f64,
    pub worst: f64,
}

/// Summarises `(key, pnl)` pairs by key (sorted by key). A non-finite P&L is counted but is neither a win nor a
/// loss, and it makes its key's `pnl` and `mean` non-finite, so a bad input shows in the report.
pub fn attribute<K: AsRef<str>>(pnls: &[(K, f64)]) -> BTreeMap<String, Summary> {
    let mut out: BTreeMap<String, Summary> = BTreeMap::new();
    for (key, pnl) in pnls {
        let s = out.entry(key.as_ref().to_owned()).or_insert(Summary {
            best: f64::NEG_INFINITY,
            worst: f64::INFINITY,
            ..Summary::default()
        });
        s.count += 1;
        s.pnl += pnl;
        if *pnl > 0.0 {
            s.wins += 1;
            s.gross_profit += pnl;
        } else if *pnl < 0.0 {
            s.losses += 1;
            s.gross_loss -= pnl;
        }
        s.best = s.best.max(*pnl);
        s.worst = s.worst.min(*pnl);
    }
    for s in out.values_mut() {
        s.mean = s.pnl / s.count as f64;
        s.win_rate = s.wins as f64 / s.count as f64;
        s.profit_factor = (s.gross_loss > 0.0).then(|| s.gross_profit / s.gross_loss);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};
    use serde::Deserialize;

    const REFERENCE: &str = include_str!("../../../tests/reference/backtest/significance.json");

    #[derive(Deserialize)]
    struct DrawdownCase {
        trades: Vec<f64>,
        compounded: bool,
        observed: f64,
        p_exact: f64,
    }

    #[derive(Deserialize)]
    struct SignCase {
        returns: Vec<f64>,
        observed: f64,
        p_exact: f64,
    }

    #[derive(Deserialize)]
    struct Attribution {
        pairs: Vec<(String, f64)>,
        summary: BTreeMap<String, Summary>,
    }

    #[derive(Deserialize)]
    struct Reference {
        drawdown_permutation: Vec<DrawdownCase>,
        sign_flip: Vec<SignCase>,
        attribution: Attribution,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE).unwrap()
    }

    fn rel_err(got: f64, want: f64) -> f64 {
        if got == want { 0.0 } else { (got - want).abs() / want.abs().max(f64::MIN_POSITIVE) }
    }

    fn normal_series(n: usize, mean: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| mean + Distribution::<f64>::sample(&StandardNormal, &mut rng)).collect()
    }

    /// A Monte Carlo p-value must be within sampling error of the exact one.
    fn assert_close_to_exact(label: &str, t: &PermutationTest, p_exact: f64) {
        let r = t.permutations as f64;
        let tol = 4.5 * (p_exact * (1.0 - p_exact) / r).sqrt() + 2.0 / r;
        assert!((t.p_value - p_exact).abs() <= tol, "{label}: p {} vs exact {p_exact} (tol {tol})", t.p_value);
    }

    #[test]
    fn drawdown_permutation_p_values_match_exact_enumeration() {
        for c in reference().drawdown_permutation {
            let basis = if c.compounded { DrawdownBasis::Compounded } else { DrawdownBasis::Additive };
            let label = format!("{:?} {basis:?}", c.trades);
            assert!(rel_err(max_drawdown(&c.trades, basis).unwrap(), c.observed) <= 1e-15, "{label}");
            let t = drawdown_permutation_test(&c.trades, basis, 20_000, 17).unwrap();
            assert_eq!(t.observed, max_drawdown(&c.trades, basis).unwrap());
            assert_close_to_exact(&label, &t, c.p_exact);
            if c.p_exact == 1.0 {
                assert_eq!(t.p_value, 1.0, "{label}: the worst order ties or beats every shuffle");
            }
        }
    }

    #[test]
    fn sign_flip_p_values_match_exact_enumeration() {
        for c in reference().sign_flip {
            let t = sign_flip_test(&c.returns, 20_000, 23).unwrap();
            assert!(rel_err(t.observed, c.observed) <= 1e-15);
            assert_close_to_exact("sign flip", &t, c.p_exact);
        }
        // A long, clearly positive series: no flip reaches its mean, so p is the floor 1/(R+1).
        let strong = normal_series(400, 1.0, 3);
        let t = sign_flip_test(&strong, 999, 1).unwrap();
        assert_eq!((t.as_extreme, t.p_value), (0, 1e-3));
    }

    #[test]
    fn permutation_tests_are_deterministic_and_reject_bad_input() {
        let trades = [0.03, -0.02, 0.05, -0.04, 0.01, 0.02, -0.03, 0.04];
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                (
                    drawdown_permutation_test(&trades, DrawdownBasis::Compounded, 3000, 5).unwrap(),
                    sign_flip_test(&trades, 3000, 5).unwrap(),
                )
            })
        };
        assert_eq!(run(1), run(4));
        // Hand-checked curves: 1.1 -> 0.55 -> 0.66 is a 50% drawdown; P&L 1,-2,-1,-3,2 is 4 below the peak of 1.
        assert!((max_drawdown(&[0.1, -0.5, 0.2], DrawdownBasis::Compounded).unwrap() - 0.5).abs() < 1e-15);
        assert_eq!(max_drawdown(&[1.0, -3.0, 1.0, -2.0, 5.0], DrawdownBasis::Additive).unwrap(), 4.0);
        assert_eq!(max_drawdown(&[0.1, 0.2], DrawdownBasis::Compounded).unwrap(), 0.0);
        assert!(max_drawdown(&[-1.0], DrawdownBasis::Compounded).unwrap() == 1.0);

        assert_eq!(
            drawdown_permutation_test(&[], DrawdownBasis::Additive, 10, 0).unwrap_err(),
            SignificanceError::TooShort { name: "trades", min: 1, len: 0 }
        );
        let e = max_drawdown(&[0.1, -1.5], DrawdownBasis::Compounded).unwrap_err().to_string();
        assert!(e.contains("`trades`") && e.contains("100%"), "{e}");
        assert!(max_drawdown(&[0.1, -1.5], DrawdownBasis::Additive).is_ok(), "P&L may exceed any size");
        assert!(
            drawdown_permutation_test(&trades, DrawdownBasis::Compounded, 0, 0)
                .unwrap_err()
                .to_string()
                .contains("`permutations`")
        );
        assert!(sign_flip_test(&trades, 0, 0).is_err());
        assert!(matches!(sign_flip_test(&[f64::NAN], 10, 0), Err(SignificanceError::NonFinite { index: 0, .. })));
    }

    #[test]
    fn attribution_matches_pandas_groupby() {
        let a = reference().attribution;
        let got = attribute(&a.pairs);
        assert_eq!(got.keys().collect::<Vec<_>>(), a.summary.keys().collect::<Vec<_>>());
        for (key, want) in &a.summary {
            let g = &got[key];
            assert_eq!((g.count, g.wins, g.losses), (want.count, want.wins, want.losses), "{key}");
            for (name, x, y) in [
                ("pnl", g.pnl, want.pnl),
                ("mean", g.mean, want.mean),
                ("win_rate", g.win_rate, want.win_rate),
                ("gross_profit", g.gross_profit, want.gross_profit),
                ("gross_loss", g.gross_loss, want.gross_loss),
                ("best", g.best, want.best),
                ("worst", g.worst, want.worst),
            ] {
                assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{key} {name}: {x} vs {y}");
            }
            match (g.profit_factor, want.profit_factor) {
                (Some(x), Some(y)) => assert!(rel_err(x, y) <= 1e-12, "{key} profit factor"),
                (x, y) => assert_eq!(x, y, "{key} profit factor"),
            }
        }
        let keyed: Vec<(&str, f64)> = vec![("long", 1.0), ("short", -2.0)];
        assert_eq!(attribute(&keyed)["short"].gross_loss, 2.0);
        assert!(attribute::<String>(&[]).is_empty());
        // A NaN P&L poisons only its own key's totals.
        let bad = attribute(&[("a", 1.0), ("b", f64::NAN), ("b", 2.0)]);
        assert_eq!(bad["a"].pnl, 1.0);
        assert!(bad["b"].pnl.is_nan() && bad["b"].mean.is_nan());
        assert_eq!((bad["b"].count, bad["b"].wins, bad["b"].losses), (2, 1, 0));
    }
}

//! The SMA crossover of backtesting.py's Quick Start (SMA 10/20 on GOOG, cash 10,000, commission
//! 0.2 % on entry and exit, all-in whole units, fills at the next open) against backtesting.py
//! 0.6.6 itself (tests/reference/backtest/gen_backtesting_py.py): every trade, the equity curve at
//! every bar and every statistic it prints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use engine::backtest::costs::Fees;
use engine::backtest::strategies::SmaCross;
use engine::backtest::{AccountConfig, BacktestConfig, InstrumentSpec, PreparedBars, VenueConfig, run};
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::domain::Decimal;
use serde_json::Value;

fn close(ours: f64, theirs: f64, what: &str) {
    assert!((ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0), "{what}: ours {ours}, backtesting.py {theirs}");
}

#[test]
fn sma_crossover_on_goog_reproduces_backtesting_py_quick_start() {
    let reference: Value =
        serde_json::from_str(include_str!("reference/backtest/backtesting_py_quickstart.json")).unwrap();
    let read = read_file(&common::shared_data("GOOG.csv"), &ImportOptions::default(), RowPolicy::Strict).unwrap();
    let data = vec![PreparedBars::new(read.series[0].0.bars.clone())];
    let config = BacktestConfig {
        account: AccountConfig { initial_cash: Decimal::from(10_000), ..AccountConfig::default() },
        venue: VenueConfig::default(),
        instruments: vec![InstrumentSpec {
            fees: Fees::Percent { rate: "0.002".parse().unwrap() },
            ..InstrumentSpec::cash("GOOG", "USD")
        }],
        benchmark: None,
        risk_free_rate: 0.0,
    };
    let mut strategy = SmaCross::new(10, 20, true).unwrap();
    let result = run(&config, &data, &mut strategy).unwrap();

    // Trades, one by one.
    let t = &reference["trades"];
    let n = t["Size"].as_array().unwrap().len();
    assert_eq!(result.trades.len(), n, "number of closed trades");
    for (k, ours) in result.trades.iter().enumerate() {
        let size = t["Size"][k].as_f64().unwrap();
        let signed =
            if matches!(ours.side, engine::backtest::metrics::TradeSide::Long) { ours.size } else { -ours.size };
        assert_eq!(signed, size, "trade {k}: size");
        assert_eq!(ours.entry_bar as u64, t["EntryBar"][k].as_u64().unwrap(), "trade {k}: entry bar");
        assert_eq!(ours.exit_bar as u64, t["ExitBar"][k].as_u64().unwrap(), "trade {k}: exit bar");
        close(ours.entry_price, t["EntryPrice"][k].as_f64().unwrap(), &format!("trade {k} entry price"));
        close(ours.exit_price, t["ExitPrice"][k].as_f64().unwrap(), &format!("trade {k} exit price"));
        close(ours.pnl, t["PnL"][k].as_f64().unwrap(), &format!("trade {k} P&L"));
        close(ours.commissions, t["Commission"][k].as_f64().unwrap(), &format!("trade {k} commissions"));
    }

    // The equity curve at every bar.
    let equity = reference["equity"].as_array().unwrap();
    assert_eq!(result.equity_curve.len(), equity.len());
    for (k, (ours, theirs)) in result.equity_curve.iter().zip(equity).enumerate() {
        close(ours.equity, theirs.as_f64().unwrap(), &format!("equity at bar {k}"));
    }

    // The statistics table.
    let s = &reference["stats"];
    let m = &result.metrics;
    let pairs = [
        ("Return [%]", m.return_pct),
        ("Equity Final [$]", m.equity_final),
        ("Equity Peak [$]", m.equity_peak),
        ("Commissions [$]", m.commissions),
        ("Exposure Time [%]", m.exposure_time_pct),
        ("Buy & Hold Return [%]", m.buy_and_hold_return_pct),
        ("Return (Ann.) [%]", m.return_ann_pct),
        ("Volatility (Ann.) [%]", m.volatility_ann_pct),
        ("CAGR [%]", m.cagr_pct),
        ("Sharpe Ratio", m.sharpe_ratio),
        ("Sortino Ratio", m.sortino_ratio),
        ("Calmar Ratio", m.calmar_ratio),
        ("Alpha [%]", m.alpha_pct),
        ("Beta", m.beta),
        ("Max. Drawdown [%]", m.max_drawdown_pct),
        ("Avg. Drawdown [%]", m.avg_drawdown_pct),
        ("# Trades", m.n_trades as f64),
        ("Win Rate [%]", m.win_rate_pct),
        ("Best Trade [%]", m.best_trade_pct),
        ("Worst Trade [%]", m.worst_trade_pct),
        ("Avg. Trade [%]", m.avg_trade_pct),
        ("Profit Factor", m.profit_factor),
        ("Expectancy [%]", m.expectancy_pct),
        ("SQN", m.sqn),
        ("Kelly Criterion", m.kelly_criterion),
    ];
    for (name, ours) in pairs {
        close(ours, s[name].as_f64().unwrap(), name);
    }
    for (name, ours) in [
        ("Max. Drawdown Duration", m.max_drawdown_duration_nanos),
        ("Avg. Drawdown Duration", m.avg_drawdown_duration_nanos),
        ("Max. Trade Duration", m.max_trade_duration_nanos),
        ("Avg. Trade Duration", m.avg_trade_duration_nanos),
    ] {
        assert_eq!(ours, s[name].as_i64(), "{name}");
    }
    assert!(result.rejections().next().is_none(), "no order was refused");
}

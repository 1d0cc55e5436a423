//! The simulated venue as a strategy meets it: each order type against handmade bars (gaps
//! included), brackets and OCO, time in force, volume participation, costs, rejections that
//! show in the order log, several currencies, and instruments whose bars do not line up.
#![allow(clippy::unwrap_used)]

use engine::backtest::costs::{Fees, Slippage};
use engine::backtest::order::{OrderEvent, OrderStatus};
use engine::backtest::{
    AccountConfig, BacktestConfig, BacktestResult, BarEvent, Context, FillTiming, InstrumentSpec, OhlcPath,
    OrderRequest, PreparedBars, Progress, Quantity, Strategy, VenueConfig, run, run_observed,
};
use engine::data::calendar::MarketCalendar;
use engine::data::series::BarSeries;
use engine::domain::{Decimal, OrderType, Side, TimeInForce, Timestamp, TrailingOffset};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;

/// Bars (open, high, low, close, volume) one hour apart from 2024-01-02 00:00 UTC, or `spacing` apart.
fn bars(rows: &[(f64, f64, f64, f64, f64)], spacing: i64, offset: i64) -> PreparedBars {
    let mut s = BarSeries::with_capacity(rows.len());
    for (i, &(o, h, l, c, v)) in rows.iter().enumerate() {
        let dec = |x: f64| Decimal::try_from(x).unwrap();
        s.push(
            Timestamp::from_nanos(1_704_153_600_000_000_000 + offset + i as i64 * spacing),
            dec(o),
            dec(h),
            dec(l),
            dec(c),
            dec(v),
            0,
        );
    }
    PreparedBars::new(s)
}

/// Submits the given requests at the given bars.
struct Script {
    at: Vec<(usize, OrderRequest)>,
}

impl Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        for (i, req) in &self.at {
            // Orders for instruments the run does not have go out with the first one's bars.
            let ours =
                req.instrument == bar.instrument || (req.instrument >= ctx.symbols().len() && bar.instrument == 0);
            if *i == bar.index && ours {
                ctx.submit(req.clone());
            }
        }
    }
}

fn config(specs: Vec<InstrumentSpec>, cash: &str) -> BacktestConfig {
    BacktestConfig {
        account: AccountConfig { initial_cash: d(cash), ..AccountConfig::default() },
        venue: VenueConfig::default(),
        instruments: specs,
        benchmark: None,
        risk_free_rate: 0.0,
    }
}

fn one(at: Vec<(usize, OrderRequest)>, rows: &[(f64, f64, f64, f64, f64)]) -> BacktestResult {
    run(&config(vec![InstrumentSpec::cash("X", "USD")], "100000"), &[bars(rows, HOUR, 0)], &mut Script { at }).unwrap()
}

fn req(side: Side, qty: &str, order_type: OrderType) -> OrderRequest {
    OrderRequest::market(0, side, Quantity::Units(d(qty))).with_type(order_type)
}

fn statuses(log: &[OrderEvent]) -> Vec<String> {
    log.iter()
        .map(|e| match &e.status {
            OrderStatus::Rejected { reason } => format!("rejected: {reason}"),
            OrderStatus::Cancelled { reason } => format!("cancelled: {reason}"),
            other => format!("{other:?}").to_lowercase(),
        })
        .collect()
}

const FLAT: (f64, f64, f64, f64, f64) = (100.0, 101.0, 99.0, 100.0, 1000.0);

#[test]
fn limit_orders_fill_at_the_limit_or_better_on_a_gap() {
    let r = one(
        vec![(0, req(Side::Buy, "10", OrderType::Limit { limit_price: d("98") }))],
        &[FLAT, FLAT, (99.0, 99.5, 97.5, 98.5, 1000.0), FLAT],
    );
    assert_eq!(r.fills.len(), 1);
    assert_eq!((r.fills[0].bar, r.fills[0].price), (2, d("98")), "filled at the limit on the bar that reached it");

    let gap = one(
        vec![(0, req(Side::Buy, "10", OrderType::Limit { limit_price: d("98") }))],
        &[FLAT, (95.0, 96.0, 94.0, 95.0, 1000.0), FLAT],
    );
    assert_eq!((gap.fills[0].bar, gap.fills[0].price), (1, d("95")), "a gap below the limit fills at the open");
}

#[test]
fn stops_trigger_on_the_range_and_gap_through_at_the_open() {
    let r = one(
        vec![
            (0, req(Side::Buy, "10", OrderType::Market)),
            (1, req(Side::Sell, "10", OrderType::Stop { stop_price: d("97") })),
        ],
        &[FLAT, FLAT, FLAT, (99.0, 99.0, 96.0, 96.5, 1000.0), FLAT],
    );
    assert_eq!(r.fills.len(), 2);
    assert_eq!((r.fills[1].bar, r.fills[1].price), (3, d("97")));
    let gap = one(
        vec![
            (0, req(Side::Buy, "10", OrderType::Market)),
            (1, req(Side::Sell, "10", OrderType::Stop { stop_price: d("97") })),
        ],
        &[FLAT, FLAT, (90.0, 91.0, 89.0, 90.0, 1000.0), FLAT],
    );
    assert_eq!(
        (gap.fills[1].bar, gap.fills[1].price),
        (2, d("90")),
        "a gap through the stop fills at the open, not the stop"
    );
    assert!(gap.trades[0].pnl < 0.0);
}

#[test]
fn stop_limits_wait_for_the_limit_after_triggering() {
    let order = OrderType::StopLimit { stop_price: d("102"), limit_price: d("101") };
    let r = one(
        vec![(0, req(Side::Buy, "5", order))],
        &[
            FLAT,
            (101.5, 104.0, 101.5, 103.5, 1000.0),
            (103.0, 103.5, 102.0, 102.5, 1000.0),
            (102.0, 102.0, 100.5, 101.0, 1000.0),
        ],
    );
    assert_eq!(r.fills.len(), 1, "triggered on bar 1 but the price stayed above the limit until bar 3");
    assert_eq!((r.fills[0].bar, r.fills[0].price), (3, d("101")));
}

#[test]
fn a_trailing_stop_follows_the_high_and_exits_on_the_pullback() {
    let trail = OrderType::TrailingStop { offset: TrailingOffset::Percent(d("5")) };
    let r = one(
        vec![(0, req(Side::Buy, "10", OrderType::Market)), (1, req(Side::Sell, "10", trail))],
        &[
            FLAT,
            FLAT,
            (100.0, 110.0, 100.0, 109.0, 1000.0),
            (109.0, 120.0, 108.0, 119.0, 1000.0),
            (118.0, 118.5, 113.0, 113.5, 1000.0),
            FLAT,
        ],
    );
    assert_eq!(r.fills.len(), 2);
    // The high of 120 sets the stop at 114; the next bar trades down through it.
    assert_eq!((r.fills[1].bar, r.fills[1].price), (4, d("114")));
}

#[test]
fn a_bracket_takes_profit_and_cancels_its_stop() {
    let entry = req(Side::Buy, "10", OrderType::Market).with_bracket(Some(d("95")), Some(d("105")));
    let r =
        one(vec![(0, entry)], &[FLAT, FLAT, (101.0, 106.0, 100.0, 105.5, 1000.0), (105.0, 105.0, 90.0, 91.0, 1000.0)]);
    assert_eq!(r.fills.len(), 2);
    assert_eq!((r.fills[1].bar, r.fills[1].price, r.fills[1].side), (2, d("105"), Side::Sell));
    let log = statuses(&r.order_log);
    assert!(log.iter().any(|s| s.starts_with("cancelled: one-cancels-other")), "{log:?}");
    assert_eq!(r.open_positions.len(), 0, "the crash on bar 3 finds no stop left and no position");
}

#[test]
fn a_bracket_entered_at_the_open_can_exit_in_the_same_bar() {
    let entry = || req(Side::Buy, "10", OrderType::Market).with_bracket(Some(d("95")), Some(d("105")));
    // Filled at bar 1's open (100); bar 1 falls to 94: the stop acts in the rest of that bar.
    let r = one(vec![(0, entry())], &[FLAT, (100.0, 101.0, 94.0, 96.0, 1000.0), FLAT]);
    let exits: Vec<_> = r.fills.iter().map(|f| (f.bar, f.side, f.price)).collect();
    assert_eq!(exits, vec![(1, Side::Buy, d("100")), (1, Side::Sell, d("95"))]);
    assert_eq!(r.open_positions.len(), 0);

    // Both levels inside the entry's bar: next-open timing knows no order within a bar and
    // assumes the worse, the stop.
    let both = [FLAT, (100.0, 106.0, 94.0, 100.0, 1000.0), FLAT];
    let r = one(vec![(0, entry())], &both);
    assert_eq!((r.fills[1].bar, r.fills[1].price), (1, d("95")));
    assert!(statuses(&r.order_log).iter().any(|s| s.starts_with("cancelled: one-cancels-other")));
    // Along a stated path the level reached first wins: open, high (the take-profit), low.
    let mut cfg = config(vec![InstrumentSpec::cash("X", "USD")], "100000");
    cfg.venue.fill_timing = FillTiming::Intrabar(OhlcPath::OpenHighLowClose);
    let r = run(&cfg, &[bars(&both, HOUR, 0)], &mut Script { at: vec![(0, entry())] }).unwrap();
    assert_eq!((r.fills[1].bar, r.fills[1].price), (1, d("105")));

    // An entry that filled at a limit inside the bar: its exits act from the next bar.
    let limit = req(Side::Buy, "10", OrderType::Limit { limit_price: d("99") }).with_bracket(Some(d("95")), None);
    let r = one(vec![(0, limit)], &[FLAT, (100.0, 101.0, 94.0, 96.0, 1000.0), (96.0, 97.0, 90.0, 91.0, 1000.0)]);
    let exits: Vec<_> = r.fills.iter().map(|f| (f.bar, f.price)).collect();
    assert_eq!(exits, vec![(1, d("99")), (2, d("95"))], "the path to the limit is unknown, so the stop waits");
}

#[test]
fn day_orders_end_with_the_trading_day_of_the_instrument_s_market() {
    // Hourly bars from Tuesday 2024-01-02 00:00 UTC; the order goes in at 12:00 UTC (07:00 New York).
    let day = req(Side::Buy, "10", OrderType::Limit { limit_price: d("90") }).with_tif(TimeInForce::Day);
    let rows: Vec<_> = (0..30).map(|_| FLAT).collect();
    let expired_at = |r: &BacktestResult| r.order_log.iter().find(|e| e.status == OrderStatus::Expired).map(|e| e.bar);
    let forex = InstrumentSpec { calendar: Some(MarketCalendar::Forex), ..InstrumentSpec::cash("EURUSD", "USD") };
    let r = run(&config(vec![forex], "100000"), &[bars(&rows, HOUR, 0)], &mut Script { at: vec![(12, day.clone())] })
        .unwrap();
    assert_eq!(expired_at(&r), Some(22), "the forex day ends at 17:00 New York, 22:00 UTC in January");
    let equity = InstrumentSpec { calendar: Some(MarketCalendar::UsEquity), ..InstrumentSpec::cash("SPY", "USD") };
    let r = run(&config(vec![equity], "100000"), &[bars(&rows, HOUR, 0)], &mut Script { at: vec![(12, day.clone())] })
        .unwrap();
    assert_eq!(expired_at(&r), Some(29), "the New York date changes at 05:00 UTC");
    assert_eq!(expired_at(&one(vec![(12, day)], &rows)), Some(24), "without a calendar: the UTC day");
}

#[test]
fn day_orders_expire_and_ioc_fok_respect_the_volume_cap() {
    let day = req(Side::Buy, "10", OrderType::Limit { limit_price: d("90") }).with_tif(TimeInForce::Day);
    let rows: Vec<_> = (0..30).map(|_| FLAT).collect();
    let r = one(vec![(0, day)], &rows);
    assert!(r.fills.is_empty());
    assert!(statuses(&r.order_log).contains(&"expired".to_string()), "a DAY order ends with the day");

    let mut cfg = config(vec![InstrumentSpec::cash("X", "USD")], "1000000");
    cfg.venue.max_participation = Some(0.1);
    let data = [bars(&[FLAT, FLAT, FLAT, FLAT], HOUR, 0)];
    let ioc = req(Side::Buy, "250", OrderType::Market).with_tif(TimeInForce::Ioc);
    let r = run(&cfg, &data, &mut Script { at: vec![(0, ioc)] }).unwrap();
    assert_eq!(r.fills.iter().map(|f| f.quantity).sum::<Decimal>(), d("100"), "10% of a 1000-lot bar");
    assert!(statuses(&r.order_log).iter().any(|s| s == "cancelled: immediate-or-cancel remainder"));

    let fok = req(Side::Buy, "250", OrderType::Market).with_tif(TimeInForce::Fok);
    let r = run(&cfg, &data, &mut Script { at: vec![(0, fok)] }).unwrap();
    assert!(r.fills.is_empty(), "fill-or-kill cannot fill 250 of a 100 cap");

    let gtc = req(Side::Buy, "250", OrderType::Market);
    let r = run(&cfg, &data, &mut Script { at: vec![(0, gtc)] }).unwrap();
    let per_bar: Vec<_> = r.fills.iter().map(|f| (f.bar, f.quantity)).collect();
    assert_eq!(per_bar, vec![(1, d("100")), (2, d("100")), (3, d("50"))], "a GTC order fills across bars");
}

#[test]
fn costs_move_prices_and_are_charged_on_each_fill() {
    let mut spec = InstrumentSpec::cash("X", "USD");
    spec.fees = Fees::PerShare { rate: d("0.01"), minimum: d("1"), max_fraction: None };
    spec.slippage = Slippage::FixedBps { bps: 10.0 };
    let data = [bars(&[FLAT, FLAT, FLAT, FLAT], HOUR, 0)];
    let at = vec![(0, req(Side::Buy, "50", OrderType::Market)), (1, req(Side::Sell, "50", OrderType::Market))];
    let r = run(&config(vec![spec], "100000"), &data, &mut Script { at }).unwrap();
    assert_eq!(r.fills[0].price, d("100.1"));
    assert_eq!(r.fills[1].price, d("99.9"));
    assert_eq!(r.fills[0].fee, d("1"), "the per-fill minimum");
    assert_eq!(r.final_equity, d("100000") - d("50") * d("0.2") - d("2"), "slippage both ways plus two fees, exactly");
}

#[test]
fn refused_orders_show_their_reason_in_the_order_log() {
    let mut crypto = InstrumentSpec::cash("BTCUSD", "USD");
    crypto.lot_size = d("0.001");
    let data = [bars(&[FLAT, FLAT, FLAT], HOUR, 0)];
    let at = vec![
        (0, OrderRequest::market(0, Side::Buy, Quantity::Units(d("5000")))),
        (0, OrderRequest::market(0, Side::Buy, Quantity::Units(d("0.0005")))),
        (0, OrderRequest::market(7, Side::Buy, Quantity::Units(d("1")))),
    ];
    let mut cfg = config(vec![crypto], "1000");
    cfg.account.allow_short = false;
    let r = run(&cfg, &data, &mut Script { at: at.clone() }).unwrap();
    let log = statuses(&r.order_log);
    assert!(log.iter().any(|s| s.starts_with("rejected: insufficient margin: the order needs 500000")), "{log:?}");
    assert!(log.iter().any(|s| s == "rejected: quantity 0.0005 is not a multiple of the lot size 0.001"), "{log:?}");
    assert!(log.iter().any(|s| s == "rejected: unknown instrument #7"), "{log:?}");
    assert!(r.fills.is_empty());
    let short =
        run(&cfg, &data, &mut Script { at: vec![(0, OrderRequest::market(0, Side::Sell, Quantity::Units(d("1"))))] })
            .unwrap();
    assert!(statuses(&short.order_log).iter().any(|s| s == "rejected: short selling is not allowed in this account"));
}

#[test]
fn foreign_currency_positions_are_valued_through_the_fx_series() {
    let mut sap = InstrumentSpec::cash("SAP", "EUR");
    sap.lot_size = Decimal::ONE;
    let specs = vec![sap, InstrumentSpec::cash("EURUSD", "USD")];
    let data = [
        bars(&[(100.0, 100.0, 100.0, 100.0, 1e6); 4], HOUR, 0),
        bars(
            &[
                (1.1, 1.1, 1.1, 1.1, 1e6),
                (1.1, 1.1, 1.1, 1.1, 1e6),
                (1.1, 1.1, 1.1, 1.1, 1e6),
                (1.2, 1.2, 1.2, 1.2, 1e6),
            ],
            HOUR,
            0,
        ),
    ];
    let at = vec![(0, OrderRequest::market(0, Side::Buy, Quantity::Units(d("10"))))];
    let r = run(&config(specs, "10000"), &data, &mut Script { at }).unwrap();
    // 10 shares bought for 1,000 EUR: cash goes EUR-negative, the position is worth 1,000 EUR.
    assert_eq!(r.cash.get("EUR"), Some(&d("-1000")));
    assert_eq!(r.final_equity, d("10000"), "a hedged EUR position nets to zero FX exposure");
    let e = r.equity_curve.last().unwrap().equity;
    assert!((e - 10000.0).abs() < 1e-9, "{e}");
}

#[test]
fn bars_that_do_not_line_up_are_traded_without_invented_prices() {
    // A trades hourly; B only every third hour.
    let specs = vec![InstrumentSpec::cash("A", "USD"), InstrumentSpec::cash("B", "USD")];
    let a = bars(&[FLAT; 9], HOUR, 0);
    let b = bars(
        &[(50.0, 51.0, 49.0, 50.0, 1000.0), (55.0, 56.0, 54.0, 55.0, 1000.0), (60.0, 61.0, 59.0, 60.0, 1000.0)],
        3 * HOUR,
        0,
    );
    struct OnA;
    impl Strategy for OnA {
        fn name(&self) -> &str {
            "on_a"
        }
        fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
            if bar.instrument == 0 && bar.index == 1 {
                ctx.buy(1, Quantity::Units(Decimal::from(10)));
            }
        }
    }
    let r = run(&config(specs, "100000"), &[a, b], &mut OnA).unwrap();
    assert_eq!(r.fills.len(), 1);
    assert_eq!((r.fills[0].symbol.as_str(), r.fills[0].price), ("B", d("55")), "B fills at its own next open");
    assert_eq!(r.fills[0].ts.nanos() - 1_704_153_600_000_000_000, 3 * HOUR);
    assert_eq!(r.equity_curve.len(), 9, "one mark per distinct time");
}

#[test]
fn progress_counts_every_bar_of_every_instrument_in_order_and_ends_at_the_total() {
    // 250 hourly bars of A and 84 of B every third hour: 334 bars in all.
    let specs = vec![InstrumentSpec::cash("A", "USD"), InstrumentSpec::cash("B", "USD")];
    let (a, b) = (bars(&[FLAT; 250], HOUR, 0), bars(&[FLAT; 84], 3 * HOUR, 0));
    let mut seen: Vec<Progress> = Vec::new();
    let observed =
        run_observed(&config(specs.clone(), "100000"), &[a.clone(), b.clone()], &mut Script { at: vec![] }, &mut |p| {
            seen.push(p)
        })
        .unwrap();
    assert!(seen.iter().all(|p| p.bars_total == 334), "{seen:?}");
    assert_eq!(seen.first().map(|p| p.bars_done), Some(0));
    assert_eq!(seen.last().map(|p| (p.bars_done, p.percent())), Some((334, 100)));
    assert!(seen.windows(2).all(|w| w[0].bars_done < w[1].bars_done), "progress only moves forward: {seen:?}");
    // About one report per percent: a bar moves smoothly without a report per bar.
    assert!((50..=102).contains(&seen.len()), "{} reports", seen.len());
    assert!(seen.iter().rev().skip(1).all(|p| p.percent() < 100), "100% only once all bars are done");
    let plain = run(&config(specs, "100000"), &[a, b], &mut Script { at: vec![] }).unwrap();
    assert_eq!(plain.equity_curve, observed.equity_curve, "watching a run does not change it");
}

#[test]
fn close_timing_fills_market_orders_on_the_signal_bar() {
    let mut cfg = config(vec![InstrumentSpec::cash("X", "USD")], "100000");
    cfg.venue.fill_timing = FillTiming::Close;
    let data = [bars(&[FLAT, (100.0, 103.0, 99.0, 102.0, 1000.0), FLAT], HOUR, 0)];
    let r = run(&cfg, &data, &mut Script { at: vec![(1, req(Side::Buy, "10", OrderType::Market))] }).unwrap();
    assert_eq!((r.fills[0].bar, r.fills[0].price), (1, d("102")));
    let _ = DAY;
}

#[test]
fn orders_behind_a_filled_oco_pair_still_act_on_the_same_bar() {
    let entry = req(Side::Buy, "10", OrderType::Market).with_bracket(Some(d("95")), Some(d("105")));
    let later = req(Side::Buy, "5", OrderType::Limit { limit_price: d("104") });
    let r = one(vec![(0, entry), (1, later)], &[FLAT, FLAT, (101.0, 106.0, 100.0, 105.5, 1000.0), FLAT]);
    let fills: Vec<_> = r.fills.iter().map(|f| (f.bar, f.side, f.price)).collect();
    assert_eq!(
        fills,
        vec![(1, Side::Buy, d("100")), (2, Side::Sell, d("105")), (2, Side::Buy, d("101"))],
        "the take-profit fills, its stop is cancelled, and the limit order behind them fills on the same bar"
    );
}

fn leveraged(maintenance: Option<&str>) -> BacktestConfig {
    let mut c = config(vec![InstrumentSpec::cash("X", "USD")], "10000");
    c.account.margin = d("0.5");
    c.account.maintenance_margin = maintenance.map(d);
    c
}

fn close_at(c: f64) -> (f64, f64, f64, f64, f64) {
    (c, c, c, c, 1000.0)
}

#[test]
fn a_margin_call_cancels_working_orders_and_closes_the_position_at_the_next_open() {
    // 2x leverage: 200 units at 100 on 10,000. At 70 equity is 4,000 against a maintenance
    // margin of 3,500 (25 % of 14,000); at 65 it is 3,000 against 3,250: called.
    let rows = [FLAT, FLAT, close_at(70.0), close_at(65.0), (64.0, 66.0, 63.0, 65.0, 1000.0), FLAT];
    let script = || Script {
        at: vec![
            (0, OrderRequest::market(0, Side::Buy, Quantity::Units(d("200"))).with_tag("entry")),
            (0, req(Side::Sell, "200", OrderType::Limit { limit_price: d("150") })),
        ],
    };
    let called = run(&leveraged(Some("0.25")), &[bars(&rows, HOUR, 0)], &mut script()).unwrap();
    let liquidations: Vec<_> = called.margin_call_fills().collect();
    assert_eq!(liquidations.len(), 1);
    let fill = liquidations[0];
    assert_eq!((fill.bar, fill.side, fill.quantity, fill.price), (4, Side::Sell, d("200"), d("64")));
    assert!(called.open_positions.is_empty(), "flat after the call");
    assert_eq!(called.final_equity, d("2800"), "10,000 - 200 x (100 - 64)");
    let reasons = statuses(&called.order_log);
    assert!(
        reasons.contains(&"cancelled: margin call: equity 3000.00 USD is below the maintenance margin 3250.00".into()),
        "{reasons:?}"
    );
    assert_eq!(called.trades.len(), 1);
    assert_eq!(called.trades[0].exit_bar, 4);

    // The same run without a maintenance margin keeps the position (and the limit order).
    let kept = run(&leveraged(None), &[bars(&rows, HOUR, 0)], &mut script()).unwrap();
    assert_eq!(kept.margin_call_fills().count(), 0);
    assert_eq!(kept.open_positions.len(), 1);
    // Above the maintenance margin nothing happens either.
    let safe = [FLAT, FLAT, close_at(70.0), close_at(70.0), FLAT];
    let fine = run(&leveraged(Some("0.25")), &[bars(&safe, HOUR, 0)], &mut script()).unwrap();
    assert_eq!(fine.margin_call_fills().count(), 0);
    assert_eq!(fine.open_positions.len(), 1);
}

#[test]
fn a_margin_call_also_cancels_orders_on_instruments_it_holds_nothing_of() {
    // The same fall in X; a resting buy limit on Y (flat, far below the market) must not be left
    // to open new exposure while the account is under the call.
    let rows = [FLAT, FLAT, close_at(70.0), close_at(65.0), (64.0, 66.0, 63.0, 65.0, 1000.0), FLAT];
    let mut c = leveraged(Some("0.25"));
    c.instruments.push(InstrumentSpec::cash("Y", "USD"));
    let mut script = Script {
        at: vec![
            (0, OrderRequest::market(0, Side::Buy, Quantity::Units(d("200")))),
            (
                0,
                OrderRequest::market(1, Side::Buy, Quantity::Units(d("10")))
                    .with_type(OrderType::Limit { limit_price: d("50") }),
            ),
        ],
    };
    let r = run(&c, &[bars(&rows, HOUR, 0), bars(&[FLAT; 6], HOUR, 0)], &mut script).unwrap();
    assert_eq!(r.margin_call_fills().count(), 1);
    let y_cancelled: Vec<_> = r
        .order_log
        .iter()
        .filter(|e| {
            e.symbol == "Y"
                && matches!(&e.status, OrderStatus::Cancelled { reason } if reason.starts_with("margin call"))
        })
        .collect();
    assert_eq!(y_cancelled.len(), 1, "{:?}", statuses(&r.order_log));
    assert!(r.open_positions.is_empty());
}

#[test]
fn a_short_squeeze_is_called_and_a_maintenance_above_the_initial_margin_is_refused() {
    // Short 150 at 100 on 10,000 with 2x: at 130 equity is 10,000 - 4,500 = 5,500 against
    // 25 % of 19,500 = 4,875 (kept); at 140, 4,000 against 5,250: called, bought back at the open.
    let rows = [FLAT, FLAT, close_at(130.0), close_at(140.0), close_at(141.0), FLAT];
    let mut script = Script { at: vec![(0, OrderRequest::market(0, Side::Sell, Quantity::Units(d("150"))))] };
    let r = run(&leveraged(Some("0.25")), &[bars(&rows, HOUR, 0)], &mut script).unwrap();
    let fills: Vec<_> = r.margin_call_fills().map(|f| (f.bar, f.side, f.quantity, f.price)).collect();
    assert_eq!(fills, vec![(4, Side::Buy, d("150"), d("141"))]);
    assert_eq!(r.final_equity, d("3850"), "10,000 - 150 x (141 - 100)");

    let err = run(&leveraged(Some("0.6")), &[bars(&rows, HOUR, 0)], &mut Script { at: vec![] }).unwrap_err();
    assert_eq!(err.to_string(), "account: maintenance margin 0.6 must be above 0 and at most the initial margin 0.5");
}

#[test]
fn shorts_pay_the_borrow_rate_each_night_and_longs_do_not() {
    // 100 units at 100 short at 3.6 % a year: 10,000 x 0.036 / 360 = 1.00 a night, for the three
    // nights between the fill on day 1 and the closing fill at the open of day 4.
    let mut spec = InstrumentSpec::cash("X", "USD");
    spec.borrow_rate = d("0.036");
    let run_side = |side: Side| {
        let close = if side == Side::Sell { Side::Buy } else { Side::Sell };
        let mut script = Script {
            at: vec![
                (0, OrderRequest::market(0, side, Quantity::Units(d("100")))),
                (3, OrderRequest::market(0, close, Quantity::Units(d("100")))),
            ],
        };
        run(&config(vec![spec.clone()], "100000"), &[bars(&[FLAT; 5], DAY, 0)], &mut script).unwrap()
    };
    let short = run_side(Side::Sell);
    assert_eq!(short.borrow_fees, d("3"));
    assert_eq!(short.final_equity, d("99997"));
    assert_eq!(short.commissions, Decimal::ZERO, "borrow fees are not commissions");
    // The round trip carries its loan fees: flat prices, so its P&L is exactly the fees.
    assert_eq!(short.trades.len(), 1);
    assert_eq!((short.trades[0].financing, short.trades[0].pnl), (3.0, -3.0));
    let long = run_side(Side::Buy);
    assert_eq!(long.borrow_fees, Decimal::ZERO);
    assert_eq!(long.final_equity, d("100000"));
    assert_eq!((long.trades[0].financing, long.trades[0].pnl), (0.0, 0.0));
    assert!(short.to_html(None).contains("<tr><th>Borrow fees</th><td>3.00</td></tr>"));
}

//! Backtests over quotes and trade prints: fills at the touch up to the size shown, resting
//! limits filled at their limit when the market crosses them (a print at the limit is not
//! enough), stops triggered by prints and filled by the next quote, the strategy's view of ticks
//! and of bars built from the mid, and the spread as the cost of a round trip.
#![allow(clippy::unwrap_used)]

use engine::backtest::order::OrderStatus;
use engine::backtest::{
    AccountConfig, BacktestConfig, BacktestResult, BarEvent, Context, FillTiming, InstrumentSpec, MarketTick,
    OrderRequest, Quantity, QuoteEvent, Strategy, TradeEvent, VenueConfig, run_ticks,
};
use engine::domain::{Decimal, OrderType, Side, TimeInForce, Timestamp};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const T0: i64 = 1_704_189_600_000_000_000; // 2024-01-02 10:00 UTC

fn quote(sec: i64, bid: &str, ask: &str, bid_size: &str, ask_size: &str) -> MarketTick {
    MarketTick::Quote {
        ts: Timestamp::from_nanos(T0 + sec * SECOND),
        bid: d(bid),
        ask: d(ask),
        bid_size: d(bid_size),
        ask_size: d(ask_size),
    }
}

fn print(sec: i64, price: &str, size: &str) -> MarketTick {
    MarketTick::Trade { ts: Timestamp::from_nanos(T0 + sec * SECOND), price: d(price), size: d(size) }
}

fn config(cash: &str) -> BacktestConfig {
    BacktestConfig {
        account: AccountConfig { initial_cash: d(cash), ..AccountConfig::default() },
        venue: VenueConfig::default(),
        instruments: vec![InstrumentSpec::cash("X", "USD")],
        benchmark: None,
        risk_free_rate: 0.0,
    }
}

/// Submits orders at given tick numbers (counting every tick the strategy sees) and records
/// what it saw, in order.
#[derive(Default)]
struct Script {
    at: Vec<(usize, OrderRequest)>,
    seen: usize,
    log: Vec<String>,
}

impl Script {
    fn new(at: Vec<(usize, OrderRequest)>) -> Self {
        Self { at, ..Self::default() }
    }

    fn act(&mut self, ctx: &mut Context<'_>) {
        for (i, req) in &self.at {
            if *i == self.seen {
                ctx.submit(req.clone());
            }
        }
        self.seen += 1;
    }
}

impl Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn on_bar(&mut self, _ctx: &mut Context<'_>, bar: &BarEvent) {
        self.log
            .push(format!("bar {} o{} h{} l{} c{} v{}", bar.index, bar.open, bar.high, bar.low, bar.close, bar.volume));
    }
    fn on_quote(&mut self, ctx: &mut Context<'_>, q: &QuoteEvent) {
        self.log.push(format!("quote {}/{}", q.bid, q.ask));
        self.act(ctx);
    }
    fn on_trade(&mut self, ctx: &mut Context<'_>, t: &TradeEvent) {
        self.log.push(format!("trade {}x{}", t.price, t.size));
        self.act(ctx);
    }
}

fn run(at: Vec<(usize, OrderRequest)>, ticks: Vec<MarketTick>) -> (BacktestResult, Vec<String>) {
    let mut s = Script::new(at);
    let r = run_ticks(&config("100000"), &[ticks], MINUTE, &mut s).unwrap();
    (r, s.log)
}

fn order(side: Side, qty: &str, order_type: OrderType) -> OrderRequest {
    OrderRequest::market(0, side, Quantity::Units(d(qty))).with_type(order_type)
}

fn fills(r: &BacktestResult) -> Vec<(Side, Decimal, Decimal)> {
    r.fills.iter().map(|f| (f.side, f.quantity, f.price)).collect()
}

#[test]
fn market_orders_take_the_touch_of_the_next_quote_up_to_the_size_shown() {
    let (r, _) = run(
        vec![(0, order(Side::Buy, "250", OrderType::Market)), (3, order(Side::Sell, "250", OrderType::Market))],
        vec![
            quote(0, "99.98", "100.02", "500", "100"),
            quote(1, "99.99", "100.03", "500", "100"),
            quote(2, "100.00", "100.04", "500", "400"),
            quote(3, "100.10", "100.14", "1000", "400"),
            quote(4, "100.08", "100.12", "1000", "400"),
        ],
    );
    // Placed on quote 0: the next quote shows 100 at the ask, the one after the other 150.
    assert_eq!(
        fills(&r),
        vec![
            (Side::Buy, d("100"), d("100.03")),
            (Side::Buy, d("150"), d("100.04")),
            (Side::Sell, d("250"), d("100.08")),
        ]
    );
    // Bought for 100·100.03 + 150·100.04, sold for 250·100.08: no fees.
    let pnl = d("250") * d("100.08") - d("100") * d("100.03") - d("150") * d("100.04");
    assert_eq!(r.final_equity, d("100000") + pnl);
}

#[test]
fn the_spread_is_the_cost_of_a_round_trip_in_a_still_market() {
    let ticks: Vec<MarketTick> = (0..6).map(|s| quote(s, "49.95", "50.05", "1000", "1000")).collect();
    let (r, _) = run(
        vec![(0, order(Side::Buy, "100", OrderType::Market)), (2, order(Side::Sell, "100", OrderType::Market))],
        ticks,
    );
    assert_eq!(fills(&r), vec![(Side::Buy, d("100"), d("50.05")), (Side::Sell, d("100"), d("49.95"))]);
    assert_eq!(r.final_equity, d("100000") - d("100") * d("0.10"));
    assert_eq!(r.trades.len(), 1);
}

#[test]
fn a_resting_limit_fills_at_its_limit_when_the_ask_crosses_it_and_a_marketable_one_takes_the_ask() {
    let (r, _) = run(
        vec![(0, order(Side::Buy, "10", OrderType::Limit { limit_price: d("99.50") }))],
        vec![
            quote(0, "99.90", "100.00", "100", "100"),
            quote(1, "99.70", "99.80", "100", "100"),
            // The ask falls through the limit: the resting bid was hit at 99.50, not at 99.30.
            quote(2, "99.20", "99.30", "100", "100"),
            quote(3, "99.20", "99.30", "100", "100"),
        ],
    );
    assert_eq!(fills(&r), vec![(Side::Buy, d("10"), d("99.50"))]);
    assert!(r.fills[0].maker, "a resting limit adds liquidity");

    let (r, _) = run(
        vec![(0, order(Side::Buy, "10", OrderType::Limit { limit_price: d("100.10") }))],
        vec![quote(0, "99.90", "100.00", "100", "100"), quote(1, "99.95", "100.05", "100", "100")],
    );
    assert_eq!(fills(&r), vec![(Side::Buy, d("10"), d("100.05"))], "marketable on arrival: the ask");
    assert!(!r.fills[0].maker);
}

#[test]
fn a_print_fills_a_resting_limit_only_when_it_trades_through() {
    let (r, _) = run(
        vec![(0, order(Side::Sell, "5", OrderType::Limit { limit_price: d("101") }))],
        vec![
            quote(0, "100.00", "100.10", "100", "100"),
            quote(1, "100.00", "100.10", "100", "100"),
            // At the limit: others may have been ahead in the queue.
            print(2, "101", "50"),
            // Through it: the resting offer would have been lifted at 101.
            print(3, "101.05", "2"),
            print(4, "101.10", "50"),
        ],
    );
    assert_eq!(
        fills(&r),
        vec![(Side::Sell, d("2"), d("101")), (Side::Sell, d("3"), d("101"))],
        "the print through the limit showed 2, the next one the rest"
    );
}

#[test]
fn stops_trigger_on_prints_and_fill_at_the_next_quote() {
    let (r, _) = run(
        vec![(0, order(Side::Sell, "10", OrderType::Stop { stop_price: d("99") }))],
        vec![
            quote(0, "100.00", "100.10", "100", "100"),
            quote(1, "99.50", "99.60", "100", "100"),
            print(2, "98.90", "5"),
            quote(3, "98.70", "98.80", "100", "100"),
        ],
    );
    assert_eq!(fills(&r), vec![(Side::Sell, d("10"), d("98.70"))], "triggered by the print, filled at the bid");
    assert_eq!(r.fills[0].ts, Timestamp::from_nanos(T0 + 3 * SECOND));

    // A quote alone triggers it too: the bid falls to the stop.
    let (r, _) = run(
        vec![(0, order(Side::Sell, "10", OrderType::Stop { stop_price: d("99") }))],
        vec![quote(0, "100.00", "100.10", "100", "100"), quote(1, "98.50", "98.60", "100", "100")],
    );
    assert_eq!(fills(&r), vec![(Side::Sell, d("10"), d("98.50"))], "gapped through: at the bid");
}

#[test]
fn on_a_stream_of_prints_only_each_print_is_the_market() {
    let (r, _) = run(
        vec![(0, order(Side::Buy, "30", OrderType::Market))],
        vec![print(0, "10.00", "100"), print(1, "10.02", "20"), print(2, "10.01", "100")],
    );
    assert_eq!(fills(&r), vec![(Side::Buy, d("20"), d("10.02")), (Side::Buy, d("10"), d("10.01"))]);
}

#[test]
fn immediate_or_cancel_takes_what_is_shown_and_fill_or_kill_takes_all_or_nothing() {
    let ioc = order(Side::Buy, "300", OrderType::Market).with_tif(TimeInForce::Ioc);
    let (r, _) =
        run(vec![(0, ioc)], vec![quote(0, "9.99", "10.01", "100", "100"), quote(1, "9.99", "10.01", "100", "120")]);
    assert_eq!(fills(&r), vec![(Side::Buy, d("120"), d("10.01"))]);
    assert!(
        r.order_log
            .iter()
            .any(|e| matches!(&e.status, OrderStatus::Cancelled { reason } if reason.contains("immediate-or-cancel")))
    );
    let fok = order(Side::Buy, "300", OrderType::Market).with_tif(TimeInForce::Fok);
    let (r, _) =
        run(vec![(0, fok)], vec![quote(0, "9.99", "10.01", "100", "100"), quote(1, "9.99", "10.01", "100", "120")]);
    assert!(r.fills.is_empty());
}

#[test]
fn bars_of_the_mid_reach_the_strategy_only_after_their_interval() {
    let ticks = vec![
        quote(0, "99", "101", "1", "1"),   // mid 100
        print(10, "100.5", "7"),           // volume only: the stream is quoted
        quote(30, "101", "103", "1", "1"), // mid 102
        quote(50, "97", "99", "1", "1"),   // mid 98
        quote(70, "99", "101", "1", "1"),  // next minute: mid 100
        quote(130, "100", "102", "1", "1"),
    ];
    let (r, log) = run(vec![], ticks);
    assert_eq!(
        log,
        vec![
            "quote 99/101",
            "trade 100.5x7",
            "quote 101/103",
            "quote 97/99",
            "bar 0 o100 h102 l98 c98 v7",
            "quote 99/101",
            "bar 1 o100 h100 l100 c100 v0",
            "quote 100/102",
            "bar 2 o101 h101 l101 c101 v0",
        ],
        "each minute's bar comes after its last tick and before the next minute's first"
    );
    let starts: Vec<i64> = r.equity_curve.iter().map(|e| e.ts_nanos - T0).collect();
    assert_eq!(starts, vec![0, MINUTE, 2 * MINUTE], "the equity is marked once per bar, labelled by its start");
}

#[test]
fn out_of_order_ticks_and_bar_fill_timing_are_refused() {
    let err = run_ticks(
        &config("1000"),
        &[vec![quote(5, "1", "2", "1", "1"), quote(4, "1", "2", "1", "1")]],
        MINUTE,
        &mut Script::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "X: ticks are not in time order at row 1; sort them first");
    let mut c = config("1000");
    c.venue.fill_timing = FillTiming::Close;
    let err = run_ticks(&c, &[vec![quote(0, "1", "2", "1", "1")]], MINUTE, &mut Script::default()).unwrap_err();
    assert!(err.to_string().contains("fill timing applies to bars"), "{err}");
}

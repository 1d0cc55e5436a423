//! Property tests of the domain model: every type survives a JSON round trip unchanged, and
//! construction refuses exactly the values the validation rules name.
#![allow(clippy::unwrap_used)]

use engine::domain::*;
use proptest::prelude::*;

fn price() -> impl Strategy<Value = Decimal> {
    (1i64..10_000_000_000, 0u32..9).prop_map(|(m, s)| Decimal::new(m, s))
}

fn quantity() -> impl Strategy<Value = Decimal> {
    (1i64..1_000_000_000, 0u32..8).prop_map(|(m, s)| Decimal::new(m, s))
}

fn stamp() -> impl Strategy<Value = Timestamp> {
    (-2_000_000_000_000_000_000i64..4_000_000_000_000_000_000).prop_map(Timestamp::from_nanos)
}

fn symbol() -> impl Strategy<Value = Symbol> {
    "[A-Z]{1,5}(/[A-Z]{3})?".prop_map(|s| Symbol::new(&s).unwrap())
}

fn bar() -> impl Strategy<Value = Bar> {
    (stamp(), price(), price(), price(), price(), quantity()).prop_map(|(ts, a, b, c, d, v)| {
        let mut p = [a, b, c, d];
        p.sort();
        // low, then open and close in either order, then high.
        Bar::new(ts, p[1], p[3], p[0], p[2], v).unwrap()
    })
}

fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![
        Just(OrderType::Market),
        price().prop_map(|limit_price| OrderType::Limit { limit_price }),
        price().prop_map(|stop_price| OrderType::Stop { stop_price }),
        (price(), price()).prop_map(|(stop_price, limit_price)| OrderType::StopLimit { stop_price, limit_price }),
        price().prop_map(|a| OrderType::TrailingStop { offset: TrailingOffset::Amount(a) }),
        (1i64..9999).prop_map(|p| OrderType::TrailingStop { offset: TrailingOffset::Percent(Decimal::new(p, 2)) }),
    ]
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![Just(TimeInForce::Gtc), Just(TimeInForce::Day), Just(TimeInForce::Ioc), Just(TimeInForce::Fok)]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
}

proptest! {
    #[test]
    fn bars_round_trip(b in bar()) {
        round_trip(&b);
    }

    #[test]
    fn timestamps_keep_nanoseconds(t in stamp()) {
        round_trip(&t);
        let text = t.to_string();
        prop_assert_eq!(text.parse::<Timestamp>().unwrap(), t);
    }

    #[test]
    fn orders_round_trip(id in "[a-zA-Z0-9_-]{1,20}", sym in symbol(), s in side(), q in quantity(), ot in order_type(), t in tif(), at in stamp()) {
        let o = Order::new(OrderId::new(&id).unwrap(), sym, s, q, ot, t, at).unwrap();
        round_trip(&o);
    }

    #[test]
    fn fills_quotes_and_ticks_round_trip(sym in symbol(), s in side(), p in price(), q in quantity(), spread in quantity(), at in stamp()) {
        round_trip(&Fill::new(OrderId::new("c1").unwrap(), sym.clone(), s, p, q, Decimal::ZERO, at).unwrap());
        round_trip(&Quote::new(at, sym.clone(), p, q, p + spread, q).unwrap());
        round_trip(&TradeTick::new(at, sym.clone(), p, q).unwrap());
        round_trip(&OrderBook::new(at, sym, vec![BookLevel::new(p, q).unwrap()], vec![BookLevel::new(p + spread, q).unwrap()]).unwrap());
    }

    #[test]
    fn instruments_round_trip(strike in price(), pip in price(), days in 0i64..20_000) {
        let expiry = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let option = Instrument::new(
            Symbol::new("AAPL240621C00190000").unwrap(),
            InstrumentKind::Option { underlying: Symbol::new("AAPL").unwrap(), strike, expiry, right: OptionRight::Call, multiplier: Decimal::ONE_HUNDRED },
            "USD",
        ).unwrap();
        round_trip(&option);
        round_trip(&Instrument::forex("EUR", "USD", pip).unwrap());
        round_trip(&Instrument::crypto("BTC", "USDT", pip, pip).unwrap());
        round_trip(&Instrument::equity("GOOG", "USD").unwrap());
    }

    #[test]
    fn signals_round_trip(sym in symbol(), c in 0.0f64..=1.0, h in 1u32..500, at in stamp()) {
        round_trip(&TradingSignal::new(at, sym, SignalAction::Buy, c, h, Timeframe::H1, "hybrid/3").unwrap());
    }

    #[test]
    fn a_high_below_the_open_is_refused(b in bar(), dip in quantity()) {
        let high = b.open - dip;
        prop_assume!(high > Decimal::ZERO);
        let err = Bar::new(b.ts, b.open, high, b.low.min(high), b.close.min(high), b.volume).unwrap_err();
        prop_assert_eq!(err.field.as_str(), "high");
        prop_assert!(err.reason.contains("below"), "{}", err.reason);
    }

    #[test]
    fn negative_prices_are_refused(b in bar(), p in price()) {
        let err = Bar::new(b.ts, -p, b.high, b.low, b.close, b.volume).unwrap_err();
        prop_assert_eq!(err.field.as_str(), "open");
        let err = Quote::new(b.ts, Symbol::new("X").unwrap(), -p, Decimal::ONE, p, Decimal::ONE).unwrap_err();
        prop_assert_eq!(err.field.as_str(), "bid");
    }

    #[test]
    fn zero_or_negative_quantities_are_refused(sym in symbol(), q in quantity()) {
        let at = Timestamp::from_nanos(0);
        for bad in [Decimal::ZERO, -q] {
            let err = Order::market("c1", &sym, Side::Buy, bad, at).unwrap_err();
            prop_assert_eq!(err.field.as_str(), "quantity");
        }
    }

    /// Deserialising runs the same validation as construction: invalid JSON bars are refused.
    #[test]
    fn deserialisation_validates(b in bar(), dip in quantity()) {
        let mut json = serde_json::to_value(&b).unwrap();
        json["low"] = serde_json::Value::String((b.high + dip).to_string());
        let err = serde_json::from_value::<Bar>(json).unwrap_err().to_string();
        prop_assert!(err.contains("low") || err.contains("high"), "{}", err);
    }
}

#[test]
fn fills_move_cash_and_positions_exactly() {
    let sym = Symbol::new("GOOG").unwrap();
    let mut p = Portfolio::new("USD", Decimal::from(10_000));
    let at = Timestamp::from_nanos(0);
    let fill = |side, price: &str, qty: i64, fee: &str| {
        Fill::new(
            OrderId::new("c").unwrap(),
            sym.clone(),
            side,
            price.parse().unwrap(),
            Decimal::from(qty),
            fee.parse().unwrap(),
            at,
        )
        .unwrap()
    };
    p.apply_fill(&fill(Side::Buy, "100.10", 10, "1.00"));
    p.apply_fill(&fill(Side::Buy, "100.40", 10, "1.00"));
    assert_eq!(p.cash, "7993.00".parse::<Decimal>().unwrap());
    assert_eq!(p.position(&sym).unwrap().average_price, "100.25".parse::<Decimal>().unwrap());
    p.apply_fill(&fill(Side::Sell, "101.25", 30, "1.50"));
    let pos = p.position(&sym).unwrap();
    assert_eq!(pos.quantity, Decimal::from(-10));
    assert_eq!(pos.average_price, "101.25".parse::<Decimal>().unwrap());
    assert_eq!(p.realised_pnl(), Decimal::from(20));
    let prices = [(sym.clone(), "100.25".parse().unwrap())].into_iter().collect();
    // cash 7993 + 3037.50 - 1.50 = 11029; short 10 at 100.25 = -1002.50.
    assert_eq!(p.equity(&prices).unwrap(), "10026.50".parse::<Decimal>().unwrap());
    assert_eq!(p.fees_paid, "3.50".parse::<Decimal>().unwrap());
}

#[test]
fn instrument_terms_are_validated() {
    assert_eq!(Instrument::forex("EUR", "EUR", Decimal::new(1, 4)).unwrap_err().field, "forex.quote");
    assert_eq!(Instrument::crypto("BTC", "USDT", Decimal::ZERO, Decimal::ONE).unwrap_err().field, "lot_size");
    assert_eq!(Symbol::new("  ").unwrap_err().field, "symbol");
    let err = TradingSignal::new(
        Timestamp::from_nanos(0),
        Symbol::new("X").unwrap(),
        SignalAction::Sell,
        1.5,
        1,
        Timeframe::D1,
        "m/1",
    )
    .unwrap_err();
    assert_eq!(err.field, "confidence");
}

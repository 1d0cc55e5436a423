//! Putting several venues' data on one footing: canonical symbols from each venue's spelling,
//! units scaled to one convention, series aligned on one clock by an as-of rule with a
//! tolerance, and several venues' bars of one instrument consolidated into one series.

use rust_decimal::Decimal;

use super::series::BarSeries;
use crate::domain::{Symbol, Timestamp, ValidationError};

const QUOTES: [&str; 14] =
    ["USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD", "EUR", "GBP", "JPY", "TRY", "BRL", "BTC", "ETH", "BNB"];
const BASES: [&str; 32] = [
    "BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "LTC", "DOT", "AVAX", "LINK", "TRX", "MATIC", "BCH", "ATOM",
    "XLM", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "USD", "SEK", "NOK", "UNI", "ETC", "FIL", "NEAR", "APT",
    "ARB",
];

/// Venue-specific names of the same asset.
fn alias(code: &str) -> &str {
    match code {
        "XBT" | "XXBT" => "BTC",
        "XDG" | "XXDG" => "DOGE",
        "XETH" => "ETH",
        "ZUSD" => "USD",
        "ZEUR" => "EUR",
        "ZGBP" => "GBP",
        "ZJPY" => "JPY",
        other => other,
    }
}

/// Maps a venue's spelling of a pair or ticker to the canonical symbol: `BTCUSDT` (Binance),
/// `BTC-USD` (Coinbase), `XXBTZUSD` and `XBT/USD` (Kraken), `EUR_USD` (OANDA) and `eurusd`
/// all become `BASE/QUOTE`; a plain equity ticker is only trimmed and upper-cased.
pub fn normalise_symbol(raw: &str) -> Result<Symbol, ValidationError> {
    let s = raw.trim().to_ascii_uppercase();
    if let Some((base, quote)) = s.split_once(['/', '-', '_', ':', ' ']) {
        if !base.is_empty() && !quote.is_empty() && !quote.contains(['/', '-', '_']) {
            return Symbol::new(&format!("{}/{}", alias(base), alias(quote)));
        }
        return Symbol::new(&s);
    }
    // Kraken's legacy names: X-prefixed crypto and Z-prefixed fiat, four letters each.
    if s.len() == 8 && (s.starts_with('X') || s.starts_with('Z')) {
        let (b, q) = s.split_at(4);
        if alias(b) != b && alias(q) != q {
            return Symbol::new(&format!("{}/{}", alias(b), alias(q)));
        }
    }
    for quote in QUOTES {
        if let Some(base) = s.strip_suffix(quote) {
            let base = alias(base);
            if BASES.contains(&base) && base != quote {
                return Symbol::new(&format!("{base}/{quote}"));
            }
        }
    }
    Symbol::new(&s)
}

/// Multipliers from a venue's units to canonical ones: prices quoted in cents have
/// `price = 0.01`; volumes in lots of 100,000 units have `quantity = 100000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitScale {
    pub price: Decimal,
    pub quantity: Decimal,
}

impl Default for UnitScale {
    fn default() -> Self {
        Self { price: Decimal::ONE, quantity: Decimal::ONE }
    }
}

impl UnitScale {
    /// Rescales every price and volume of a series in place (exactly: decimal arithmetic).
    pub fn apply(&self, bars: &mut BarSeries) {
        if self.price != Decimal::ONE {
            for col in [&mut bars.open, &mut bars.high, &mut bars.low, &mut bars.close] {
                col.iter_mut().for_each(|p| *p *= self.price);
            }
        }
        if self.quantity != Decimal::ONE {
            bars.volume.iter_mut().for_each(|v| *v *= self.quantity);
        }
    }
}

/// Every distinct stamp of the given sorted series, in order: the clock to align them on.
pub fn union_clock(series: &[&BarSeries]) -> Vec<Timestamp> {
    let mut clock: Vec<Timestamp> = series.iter().flat_map(|s| s.ts.iter().copied()).collect();
    clock.sort_unstable();
    clock.dedup();
    clock
}

/// For each clock tick, the row of `bars` (sorted by time) with the latest stamp at or before
/// the tick and no more than `tolerance_nanos` before it; `None` where there is none. A value
/// at tick t never comes from a bar stamped after t.
pub fn asof_rows(bars: &BarSeries, clock: &[Timestamp], tolerance_nanos: i64) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(clock.len());
    let mut next = 0usize;
    for &t in clock {
        while next < bars.len() && bars.ts[next] <= t {
            next += 1;
        }
        out.push(next.checked_sub(1).filter(|&i| t.nanos() - bars.ts[i].nanos() <= tolerance_nanos));
    }
    out
}

/// Several series' closes on one clock.
#[derive(Clone, Debug, PartialEq)]
pub struct AlignedCloses {
    pub clock: Vec<Timestamp>,
    pub names: Vec<String>,
    /// `closes[series][tick]`.
    pub closes: Vec<Vec<Option<Decimal>>>,
}

/// Aligns named series on `clock` (default: the union of their stamps) with an as-of rule.
pub fn align_closes(
    series: &[(&str, &BarSeries)],
    clock: Option<Vec<Timestamp>>,
    tolerance_nanos: i64,
) -> AlignedCloses {
    let clock = clock.unwrap_or_else(|| union_clock(&series.iter().map(|(_, s)| *s).collect::<Vec<_>>()));
    let closes = series
        .iter()
        .map(|(_, s)| asof_rows(s, &clock, tolerance_nanos).into_iter().map(|r| r.map(|i| s.close[i])).collect())
        .collect();
    AlignedCloses { clock, names: series.iter().map(|(n, _)| (*n).to_owned()).collect(), closes }
}

/// Consolidates one instrument's bars from several venues into one series on the union of
/// their stamps: the highest high, the lowest low, the summed volume, and open and close
/// weighted by each venue's volume (equal weights where no venue reports volume). Only bars
/// stamped exactly at a tick contribute to it, so nothing is counted twice.
pub fn consolidate(venues: &[&BarSeries]) -> BarSeries {
    let clock = union_clock(venues);
    let mut out = BarSeries::with_capacity(clock.len());
    let mut cursors = vec![0usize; venues.len()];
    for &t in &clock {
        let mut rows = Vec::with_capacity(venues.len());
        for (v, cursor) in venues.iter().zip(cursors.iter_mut()) {
            while *cursor < v.len() && v.ts[*cursor] < t {
                *cursor += 1;
            }
            if *cursor < v.len() && v.ts[*cursor] == t {
                rows.push((*v, *cursor));
            }
        }
        let volume: Decimal = rows.iter().map(|(v, i)| v.volume[*i]).sum();
        let weight = |v: &BarSeries, i: usize| if volume.is_zero() { Decimal::ONE } else { v.volume[i] };
        let total_weight: Decimal = rows.iter().map(|(v, i)| weight(v, *i)).sum();
        let weighted = |col: fn(&BarSeries) -> &Vec<Decimal>| {
            rows.iter().map(|(v, i)| col(v)[*i] * weight(v, *i)).sum::<Decimal>() / total_weight
        };
        let open = weighted(|s| &s.open);
        let close = weighted(|s| &s.close);
        let high = rows.iter().map(|(v, i)| v.high[*i]).max().unwrap_or(open).max(open).max(close);
        let low = rows.iter().map(|(v, i)| v.low[*i]).min().unwrap_or(open).min(open).min(close);
        out.push(t, open, high, low, close, volume, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, i64, i64)]) -> BarSeries {
        let mut s = BarSeries::default();
        for &(t, close, vol) in points {
            let c = Decimal::from(close);
            s.push(Timestamp::from_nanos(t), c, c + Decimal::ONE, c - Decimal::ONE, c, Decimal::from(vol), 0);
        }
        s
    }

    #[test]
    fn venue_spellings_map_to_one_symbol() {
        for raw in ["BTCUSDT", "btc-usdt", "BTC/USDT", "BTC_USDT"] {
            assert_eq!(normalise_symbol(raw).unwrap().as_str(), "BTC/USDT", "{raw}");
        }
        for raw in ["XXBTZUSD", "XBT/USD", "BTC-USD", "btcusd"] {
            assert_eq!(normalise_symbol(raw).unwrap().as_str(), "BTC/USD", "{raw}");
        }
        assert_eq!(normalise_symbol("EUR_USD").unwrap().as_str(), "EUR/USD");
        assert_eq!(normalise_symbol("eurusd").unwrap().as_str(), "EUR/USD");
        assert_eq!(normalise_symbol(" goog ").unwrap().as_str(), "GOOG");
        assert_eq!(normalise_symbol("ETHBTC").unwrap().as_str(), "ETH/BTC");
    }

    #[test]
    fn units_rescale_exactly() {
        let mut s = series(&[(0, 12345, 3)]);
        UnitScale { price: Decimal::new(1, 2), quantity: Decimal::from(100_000) }.apply(&mut s);
        assert_eq!(s.close[0], Decimal::new(12345, 2));
        assert_eq!(s.volume[0], Decimal::from(300_000));
    }

    #[test]
    fn asof_alignment_respects_tolerance_and_never_looks_ahead() {
        let a = series(&[(0, 10, 1), (10, 11, 1), (20, 12, 1)]);
        let b = series(&[(5, 50, 1), (25, 51, 1)]);
        let aligned = align_closes(&[("a", &a), ("b", &b)], None, 6);
        assert_eq!(aligned.clock.iter().map(|t| t.nanos()).collect::<Vec<_>>(), vec![0, 5, 10, 20, 25]);
        let d = |v: i64| Some(Decimal::from(v));
        assert_eq!(aligned.closes[0], vec![d(10), d(10), d(11), d(12), d(12)]);
        // b at 20 would need the bar from 5, 15 ns old: beyond the tolerance of 6.
        assert_eq!(aligned.closes[1], vec![None, d(50), d(50), None, d(51)]);
    }

    #[test]
    fn consolidation_weights_by_volume() {
        let x = series(&[(0, 100, 3), (1, 101, 1)]);
        let y = series(&[(0, 104, 1)]);
        let c = consolidate(&[&x, &y]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.close[0], Decimal::from(101)); // (100*3 + 104*1) / 4
        assert_eq!(c.volume[0], Decimal::from(4));
        assert_eq!(c.high[0], Decimal::from(105));
        assert_eq!(c.low[0], Decimal::from(99));
        assert_eq!(c.close[1], Decimal::from(101));
    }
}

//! The venue boundary and the simulated venue behind it: order acceptance and rejection, the
//! matching of market, limit, stop, stop-limit and trailing orders against bars (gaps included),
//! brackets and OCO, time in force, volume participation, slippage and fees. Matching against
//! quotes and trade prints is in [`ticks`].

mod ticks;

pub use ticks::MarketTick;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize};

use super::account::Account;
use super::costs::MarketState;
use super::order::{
    FillEvent, InstrumentId, OrderChange, OrderEvent, OrderRef, OrderRequest, OrderStatus, Quantity, WorkingOrder,
};
use crate::domain::{Decimal, OrderType, Side, TimeInForce, Timestamp, TrailingOffset};

/// The tag of the orders a margin call places (and of the trades they close).
pub const MARGIN_CALL_TAG: &str = "margin call";

/// The boundary every venue implements: the simulator here, paper and exchange connectors later.
/// Requests are answered through events, as a real venue answers asynchronously.
pub trait Venue {
    /// Accepts (or rejects, with the reason in the order log) a new order.
    fn submit(&mut self, request: OrderRequest, now: Timestamp) -> OrderRef;
    fn cancel(&mut self, order: OrderRef, now: Timestamp);
    fn modify(&mut self, order: OrderRef, change: OrderChange, now: Timestamp);
    /// Moves fills and order updates since the last call into the buffers.
    fn drain(&mut self, fills: &mut Vec<FillEvent>, updates: &mut Vec<OrderEvent>);
    fn account(&self) -> &Account;
}

/// When orders fill relative to the bar on which the strategy placed them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillTiming {
    /// At the next bar's open (and stops/limits within the next bars): backtesting.py's default.
    #[default]
    NextOpen,
    /// Market orders at the close of the bar they were placed on.
    Close,
    /// Within the next bars, walking each bar's prices along the stated path.
    Intrabar(OhlcPath),
}

/// The assumed order of a bar's prices, which decides which of two levels a bar touched first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OhlcPath {
    /// Open, high, low, close.
    #[default]
    OpenHighLowClose,
    /// Open, low, high, close.
    OpenLowHighClose,
    /// From the open to whichever extreme is nearer, then the other.
    Nearest,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VenueConfig {
    pub fill_timing: FillTiming,
    /// At most this fraction of a bar's volume fills per bar; the rest stays working (or is
    /// cancelled for IOC). None: no cap.
    pub max_participation: Option<f64>,
}

/// One bar of one instrument in exact prices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VenueBar {
    pub index: usize,
    pub ts: Timestamp,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    /// High, low, close and volume as floats, for the venue's running statistics (slippage
    /// models): decimal arithmetic on every bar would cost more than everything else.
    pub stats: [f64; 4],
}

/// The simulated venue.
pub struct SimulatedVenue {
    config: VenueConfig,
    account: Account,
    working: Vec<Vec<WorkingOrder>>,
    current: Vec<Option<VenueBar>>,
    /// Whether each instrument's tick stream carries quotes (see [`SimulatedVenue::set_quoted`]).
    quoted: Vec<bool>,
    state: Vec<MarketState>,
    next_id: OrderRef,
    fills: Vec<FillEvent>,
    updates: Vec<OrderEvent>,
    /// Every order event of the run, rejections included: the order log of the report.
    log: Vec<OrderEvent>,
    /// False where nobody reads the log (a trading environment's episodes): events still reach
    /// [`Venue::drain`], but no copy of each is kept for the whole run.
    keep_log: bool,
}

impl SimulatedVenue {
    pub fn new(config: VenueConfig, account: Account) -> Self {
        let n = account.specs().len();
        Self {
            config,
            account,
            working: vec![Vec::new(); n],
            current: vec![None; n],
            quoted: vec![false; n],
            state: vec![MarketState::default(); n],
            next_id: 1,
            fills: Vec::new(),
            updates: Vec::new(),
            log: Vec::new(),
            keep_log: true,
        }
    }

    /// The same venue without the order log (`order_log` stays empty): for callers that see
    /// every event through [`Venue::drain`] and keep what they need of it.
    pub fn without_order_log(mut self) -> Self {
        self.keep_log = false;
        self
    }

    pub fn account_mut(&mut self) -> &mut Account {
        &mut self.account
    }

    pub fn order_log(&self) -> &[OrderEvent] {
        &self.log
    }

    pub fn into_parts(self) -> (Account, Vec<OrderEvent>) {
        (self.account, self.log)
    }

    pub fn has_working(&self, instrument: InstrumentId) -> bool {
        !self.working[instrument].is_empty()
    }

    /// The instrument's trading day at `ts` (its calendar's, or the UTC day), which ends DAY orders.
    fn trading_day(&self, instrument: InstrumentId, ts: Timestamp) -> i64 {
        self.account.spec(instrument).map_or(ts.nanos().div_euclid(86_400_000_000_000), |s| s.trading_day(ts))
    }

    fn event(&mut self, order: OrderRef, request: &OrderRequest, ts: Timestamp, bar: usize, status: OrderStatus) {
        let symbol = self.account.spec(request.instrument).map(|s| s.symbol.clone()).unwrap_or_default();
        let event = OrderEvent { order, ts, bar, symbol, side: request.side, status, tag: request.tag.clone() };
        if self.keep_log {
            self.log.push(event.clone());
        }
        self.updates.push(event);
    }

    /// Matches this instrument's working orders against a new bar, then records the bar.
    pub fn on_bar(&mut self, instrument: InstrumentId, bar: VenueBar) {
        self.account.set_price(instrument, bar.close);
        if !self.working[instrument].is_empty() {
            self.match_orders(instrument, &bar);
        }
        self.current[instrument] = Some(bar);
        self.note_bar(instrument, bar.stats);
    }

    /// Updates what the slippage models know of the instrument's recent bars (high, low, close, volume).
    pub(crate) fn note_bar(&mut self, instrument: InstrumentId, stats: [f64; 4]) {
        let st = &mut self.state[instrument];
        let [high, low, close, volume] = stats;
        if close > 0.0 {
            let range = ((high - low) / close).max(0.0);
            // 20-bar exponential means: what the venue knows before the next fill.
            let a = 2.0 / 21.0;
            if st.average_volume == 0.0 && st.range_volatility == 0.0 {
                st.range_volatility = range;
                st.average_volume = volume;
            } else {
                st.range_volatility += a * (range - st.range_volatility);
                st.average_volume += a * (volume - st.average_volume);
            }
        }
    }

    /// Ends the day: overnight financing and stock-loan fees on open positions, charged in the
    /// instrument's currency.
    pub fn roll_day(&mut self) {
        for id in 0..self.account.specs().len() {
            let position = self.account.position(id);
            if position.is_zero() {
                continue;
            }
            let spec = &self.account.specs()[id];
            let price = self.account.last_price(id);
            let financing = spec.fees.overnight(position * spec.multiplier, price);
            let borrow = spec.borrow_fee(position, price);
            if !financing.is_zero() {
                self.account.charge_financing(id, financing);
            }
            if !borrow.is_zero() {
                self.account.charge_borrow(id, borrow);
            }
        }
    }

    /// The margin call: when equity is below the maintenance margin at the latest prices, every
    /// working order is cancelled and every position is closed by a reduce-only market order
    /// tagged `margin call`, which fills as the venue's fill timing says (the next open by
    /// default). Returns whether it cancelled or placed anything; a position whose closing order
    /// is still working is not called twice.
    pub fn enforce_maintenance(&mut self, now: Timestamp) -> Result<bool, super::account::AccountRejection> {
        let Some((equity, required)) = self.account.maintenance_breach()? else { return Ok(false) };
        let called = |o: &WorkingOrder| o.request.tag.as_deref() == Some(MARGIN_CALL_TAG);
        let currency = self.account.config().base_currency.clone();
        let reason =
            format!("margin call: equity {equity:.2} {currency} is below the maintenance margin {required:.2}");
        let mut any = false;
        for id in 0..self.working.len() {
            if self.working[id].iter().any(called) {
                continue;
            }
            // Orders on flat instruments go too: they would open exposure the account cannot carry.
            for order in std::mem::take(&mut self.working[id]) {
                let bar = order.request.instrument_bar(&self.current);
                let status = OrderStatus::Cancelled { reason: reason.clone() };
                self.event(order.id, &order.request, now, bar, status);
                any = true;
            }
            let position = self.account.position(id);
            if position.is_zero() {
                continue;
            }
            let side = if position.is_sign_positive() { Side::Sell } else { Side::Buy };
            let close =
                OrderRequest::market(id, side, Quantity::Units(position.abs())).reduce_only().with_tag(MARGIN_CALL_TAG);
            self.submit(close, now);
            any = true;
        }
        if any {
            tracing::warn!(%equity, %required, "margin call: closing every position");
        }
        Ok(any)
    }

    fn match_orders(&mut self, instrument: InstrumentId, bar: &VenueBar) {
        let mut orders = std::mem::take(&mut self.working[instrument]);
        if let FillTiming::Intrabar(path) = self.config.fill_timing {
            // Orders act in the order the bar's assumed path reaches their levels.
            orders.sort_by(|a, b| {
                let ta = path_time(path, bar, level_of(a, bar));
                let tb = path_time(path, bar, level_of(b, bar));
                ta.total_cmp(&tb)
            });
        }
        let available = self.bar_allowance(bar);
        let mut price = |order: &mut WorkingOrder| trigger_price(order, bar).map(|p| (p, available));
        let placed = self.work(instrument, orders, bar, &mut price);
        // The exits of an entry that filled at the open have the rest of the bar ahead of them
        // (worked in the order the first pass gives: the stop before the take-profit, unless the
        // intrabar path says otherwise); other exits act from the next bar.
        let (now, later): (Vec<_>, Vec<_>) = placed.into_iter().partition(|o| o.same_bar);
        let mut now = now;
        if let FillTiming::Intrabar(path) = self.config.fill_timing {
            now.sort_by(|a, b| {
                path_time(path, bar, level_of(a, bar)).total_cmp(&path_time(path, bar, level_of(b, bar)))
            });
        }
        let more = if now.is_empty() { Vec::new() } else { self.work(instrument, now, bar, &mut price) };
        self.working[instrument].extend(later.into_iter().chain(more));
    }

    /// Works an instrument's `orders` against one market event (`bar` stamps the fills and order
    /// events): `price` gives each order's fill price and the units it may fill (None: no limit),
    /// or None to leave it working. Expires DAY orders of an earlier day first. The orders still
    /// working go back to the book; the orders placed meanwhile (bracket exits) are returned.
    fn work(
        &mut self,
        instrument: InstrumentId,
        mut orders: Vec<WorkingOrder>,
        bar: &VenueBar,
        mut price: impl FnMut(&mut WorkingOrder) -> Option<(Decimal, Option<f64>)>,
    ) -> Vec<WorkingOrder> {
        // The book is out of `self` while it is worked, so each order is worked in place.
        let mut k = 0;
        while k < orders.len() {
            let order = &mut orders[k];
            if order.request.time_in_force == TimeInForce::Day
                && self.trading_day(instrument, bar.ts) != order.submitted_day
            {
                let order = orders.remove(k);
                self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Expired);
                continue;
            }
            let Some((price, available)) = price(order) else {
                order.rested = true;
                k += 1;
                continue;
            };
            let maker = order.rested && matches!(order.request.order_type, OrderType::Limit { .. });
            match self.execute(order, price, bar, maker, available) {
                Execution::Done => {
                    // Children of a filled entry join the book (via `self.working`) for later bars.
                    let order = orders.remove(k);
                    // Partners ahead of this position shift the rest down when they go.
                    k -= self.finish_links(&mut orders, &order, bar, k);
                }
                Execution::Partial => {
                    order.rested = true;
                    k += 1;
                }
                Execution::Ended => {
                    orders.remove(k);
                }
            }
        }
        // Orders placed while matching (bracket children) were pushed to self.working meanwhile.
        std::mem::replace(&mut self.working[instrument], orders)
    }
}

/// The price at which this bar fills the order, if it does (updating trailing state).
fn trigger_price(order: &mut WorkingOrder, bar: &VenueBar) -> Option<Decimal> {
    let buy = order.request.side == Side::Buy;
    let (o, h, l) = (bar.open, bar.high, bar.low);
    let limit_fill = |limit: Decimal| -> Option<Decimal> {
        if buy {
            if o <= limit {
                Some(o)
            } else if l <= limit {
                Some(limit)
            } else {
                None
            }
        } else if o >= limit {
            Some(o)
        } else if h >= limit {
            Some(limit)
        } else {
            None
        }
    };
    let stop_fill = |stop: Decimal| -> Option<Decimal> {
        if buy {
            if o >= stop {
                Some(o)
            } else if h >= stop {
                Some(stop)
            } else {
                None
            }
        } else if o <= stop {
            Some(o)
        } else if l <= stop {
            Some(stop)
        } else {
            None
        }
    };
    match order.request.order_type {
        OrderType::Market => Some(o),
        OrderType::Limit { limit_price } => limit_fill(limit_price),
        OrderType::Stop { stop_price } => stop_fill(stop_price),
        OrderType::StopLimit { stop_price, limit_price } => {
            if order.triggered {
                return limit_fill(limit_price);
            }
            let trigger = stop_fill(stop_price)?;
            order.triggered = true;
            // Triggered within this bar: the limit fills if the bar also reached it after the trigger.
            let reached = if buy { l <= limit_price } else { h >= limit_price };
            if !reached {
                return None;
            }
            Some(if buy { trigger.min(limit_price) } else { trigger.max(limit_price) })
        }
        OrderType::TrailingStop { offset } => {
            let extreme = order.trail_extreme.unwrap_or(o);
            let hit = stop_fill(trailing_level(offset, buy, extreme));
            // The level trails the best price of this bar for the bars that follow.
            order.trail_extreme = Some(if buy { extreme.min(l) } else { extreme.max(h) });
            hit
        }
    }
}

impl SimulatedVenue {
    /// What a bar lets one order fill: its volume times the participation cap (None: no cap).
    fn bar_allowance(&self, bar: &VenueBar) -> Option<f64> {
        self.config.max_participation.map(|cap| bar.volume.to_f64().unwrap_or(0.0) * cap)
    }

    /// Fills what the bar allows (`available` units at most, None: no limit); reports whether
    /// the order is done, partly done or ended unfilled.
    fn execute(
        &mut self,
        order: &mut WorkingOrder,
        price: Decimal,
        bar: &VenueBar,
        maker: bool,
        available: Option<f64>,
    ) -> Execution {
        let id = order.request.instrument;
        // Borrowed, not cloned (a spec holds strings): each early return below ends the borrow
        // before its event is recorded.
        let state = self.state[id];
        let Some(spec) = self.account.spec(id) else {
            return Execution::Ended;
        };
        let units = match order.units {
            Some(u) => u,
            None => match self.size_fraction(order, price, spec) {
                Some(u) => {
                    order.units = Some(u);
                    u
                }
                None => {
                    let reason = "the account cannot afford a single lot".to_string();
                    self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Rejected { reason });
                    return Execution::Ended;
                }
            },
        };
        let mut quantity = units - order.filled;
        if order.request.reduce_only {
            let position = self.account.position(id);
            let reducible = if (position.is_sign_positive() && order.request.side == Side::Sell)
                || (position.is_sign_negative() && order.request.side == Side::Buy)
            {
                position.abs()
            } else {
                Decimal::ZERO
            };
            quantity = quantity.min(reducible);
            if quantity.is_zero() {
                let reason = "reduce-only order with no position to reduce".to_string();
                self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Cancelled { reason });
                return Execution::Ended;
            }
        }
        if let Some(available) = available {
            let allowed = Decimal::from_f64(available).unwrap_or(Decimal::ZERO);
            let allowed = floor_to_lot(allowed, spec.lot_size);
            if allowed < quantity {
                if order.request.time_in_force == TimeInForce::Fok || allowed.is_zero() {
                    if matches!(order.request.time_in_force, TimeInForce::Fok | TimeInForce::Ioc) {
                        let reason = format!("the market's volume allows {allowed} of {quantity}");
                        self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Cancelled { reason });
                        return Execution::Ended;
                    }
                    return Execution::Partial;
                }
                quantity = allowed;
            }
        }
        let (fill_price, slip) = spec.slippage.apply(order.request.side, price, quantity, &state);
        let fee = spec.fees.fee(quantity, fill_price * spec.multiplier, maker);
        if let Err(rejection) = self.account.check(id, order.request.side, quantity, fill_price, fee) {
            let reason = rejection.to_string();
            self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Rejected { reason });
            return Execution::Ended;
        }
        let fill = FillEvent {
            order: order.id,
            instrument: id,
            symbol: spec.symbol.clone(),
            ts: bar.ts,
            bar: bar.index,
            side: order.request.side,
            quantity,
            price: fill_price,
            fee,
            slippage: slip,
            maker,
            tag: order.request.tag.clone(),
        };
        self.account.apply(&fill);
        self.fills.push(fill);
        order.filled += quantity;
        let remaining = units - order.filled;
        if remaining.is_zero() || order.request.reduce_only && self.account.position(id).is_zero() {
            self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Filled);
            if let Some(bracket) = order.request.bracket {
                self.place_children(order, bracket, bar, price == bar.open);
            }
            Execution::Done
        } else {
            let status = OrderStatus::PartiallyFilled { filled: order.filled, remaining };
            self.event(order.id, &order.request, bar.ts, bar.index, status);
            if order.request.time_in_force == TimeInForce::Ioc {
                let reason = "immediate-or-cancel remainder".to_string();
                self.event(order.id, &order.request, bar.ts, bar.index, OrderStatus::Cancelled { reason });
                return Execution::Ended;
            }
            Execution::Partial
        }
    }

    /// backtesting.py's sizing: whole lots of `fraction` of the margin available at the fill,
    /// with room for the proportional fee.
    fn size_fraction(
        &self,
        order: &WorkingOrder,
        price: Decimal,
        spec: &super::account::InstrumentSpec,
    ) -> Option<Decimal> {
        let Quantity::EquityFraction(fraction) = order.request.quantity else { return None };
        let available = self.account.margin_available().ok()?.to_f64()?;
        let margin = self.account.config().margin.to_f64()?;
        let rate = self.account.rate_to_base(&spec.currency).ok()?.to_f64()?;
        let unit_cost = price.to_f64()? * spec.multiplier.to_f64()? * rate * (1.0 + spec.fees.proportional_rate());
        if unit_cost <= 0.0 || margin <= 0.0 {
            return None;
        }
        let units = ((available / margin) * fraction / unit_cost).floor();
        let units = floor_to_lot(Decimal::from_f64(units)?, spec.lot_size);
        (units > Decimal::ZERO).then_some(units)
    }

    /// Places a filled entry's stop-loss and take-profit as an OCO pair; `at_open` says the entry
    /// filled at the bar's open, so the exits may act within the same bar.
    fn place_children(&mut self, parent: &WorkingOrder, bracket: super::order::Bracket, bar: &VenueBar, at_open: bool) {
        let exit_side = parent.request.side.opposite();
        let qty = parent.filled;
        let day = self.trading_day(parent.request.instrument, bar.ts);
        let mut ids = Vec::new();
        for order_type in [
            bracket.stop_loss.map(|s| OrderType::Stop { stop_price: s }),
            bracket.take_profit.map(|t| OrderType::Limit { limit_price: t }),
        ]
        .into_iter()
        .flatten()
        {
            let mut request = OrderRequest::market(parent.request.instrument, exit_side, Quantity::Units(qty))
                .with_type(order_type)
                .reduce_only();
            request.tag = parent.request.tag.clone();
            let id = self.next_id;
            self.next_id += 1;
            self.event(id, &request, bar.ts, bar.index, OrderStatus::Accepted);
            ids.push(id);
            self.working[parent.request.instrument].push(WorkingOrder {
                id,
                request,
                submitted_bar: bar.index,
                submitted_day: day,
                units: Some(qty),
                filled: Decimal::ZERO,
                triggered: false,
                trail_extreme: None,
                rested: false,
                same_bar: at_open,
            });
        }
        // The stop-loss and take-profit cancel each other.
        if let [a, b] = ids[..] {
            for o in self.working[parent.request.instrument].iter_mut() {
                if o.id == a {
                    o.request.oco_with = Some(b);
                } else if o.id == b {
                    o.request.oco_with = Some(a);
                }
            }
        }
    }

    /// Cancels the OCO partners of a filled order; returns how many stood before `position`.
    fn finish_links(
        &mut self,
        orders: &mut Vec<WorkingOrder>,
        filled: &WorkingOrder,
        bar: &VenueBar,
        position: usize,
    ) -> usize {
        let partner = filled.request.oco_with;
        let (mut k, mut before) = (0, 0);
        while k < orders.len() {
            let o = &orders[k];
            if Some(o.id) == partner || o.request.oco_with == Some(filled.id) {
                let o = orders.remove(k);
                before += usize::from(k < position);
                let reason = format!("one-cancels-other with order {}", filled.id);
                self.event(o.id, &o.request, bar.ts, bar.index, OrderStatus::Cancelled { reason });
            } else {
                k += 1;
            }
        }
        before
    }

    fn reject(&mut self, id: OrderRef, request: &OrderRequest, now: Timestamp, reason: String) -> OrderRef {
        let bar = request.instrument_bar(&self.current);
        self.event(id, request, now, bar, OrderStatus::Rejected { reason });
        id
    }
}

/// The price level at which an order would act in this bar (the open for market orders).
fn level_of(order: &WorkingOrder, bar: &VenueBar) -> Decimal {
    let buy = order.request.side == Side::Buy;
    match order.request.order_type {
        OrderType::Market => bar.open,
        OrderType::Limit { limit_price } => limit_price,
        OrderType::Stop { stop_price } => stop_price,
        OrderType::StopLimit { stop_price, limit_price } => {
            if order.triggered {
                limit_price
            } else {
                stop_price
            }
        }
        OrderType::TrailingStop { offset } => trailing_level(offset, buy, order.trail_extreme.unwrap_or(bar.open)),
    }
}

/// A trailing stop's level: `offset` below the best price since submission for a sell, above it
/// for a buy.
fn trailing_level(offset: TrailingOffset, buy: bool, extreme: Decimal) -> Decimal {
    match (offset, buy) {
        (TrailingOffset::Amount(a), false) => extreme - a,
        (TrailingOffset::Amount(a), true) => extreme + a,
        (TrailingOffset::Percent(p), false) => extreme * (Decimal::ONE - p / Decimal::ONE_HUNDRED),
        (TrailingOffset::Percent(p), true) => extreme * (Decimal::ONE + p / Decimal::ONE_HUNDRED),
    }
}

/// How far along the bar's assumed price path `level` is first reached (infinite if never).
fn path_time(path: OhlcPath, bar: &VenueBar, level: Decimal) -> f64 {
    let f = |d: Decimal| d.to_f64().unwrap_or(0.0);
    let (o, h, l, c) = (f(bar.open), f(bar.high), f(bar.low), f(bar.close));
    let x = f(level);
    let high_first = match path {
        OhlcPath::OpenHighLowClose => true,
        OhlcPath::OpenLowHighClose => false,
        OhlcPath::Nearest => (h - o) <= (o - l),
    };
    let points = if high_first { [o, h, l, c] } else { [o, l, h, c] };
    let mut travelled = 0.0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a <= x && x <= b) || (b <= x && x <= a) {
            return travelled + (x - a).abs();
        }
        travelled += (b - a).abs();
    }
    f64::INFINITY
}

enum Execution {
    Done,
    Partial,
    Ended,
}

fn floor_to_lot(quantity: Decimal, lot: Decimal) -> Decimal {
    if lot.is_zero() { quantity } else { (quantity / lot).floor() * lot }
}

impl OrderRequest {
    fn instrument_bar(&self, current: &[Option<VenueBar>]) -> usize {
        current.get(self.instrument).copied().flatten().map(|b| b.index).unwrap_or(0)
    }
}

impl Venue for SimulatedVenue {
    fn submit(&mut self, request: OrderRequest, now: Timestamp) -> OrderRef {
        let id = self.next_id;
        self.next_id += 1;
        // Only what the checks need of the spec (a clone would copy its strings per order).
        let Some((lot_size, submitted_day)) =
            self.account.spec(request.instrument).map(|spec| (spec.lot_size, spec.trading_day(now)))
        else {
            let reason = format!("unknown instrument #{}", request.instrument);
            return self.reject(id, &request, now, reason);
        };
        let units = match request.quantity {
            Quantity::Units(q) if q <= Decimal::ZERO => {
                return self.reject(id, &request, now, format!("quantity {q} must be positive"));
            }
            Quantity::Units(q) if !lot_size.is_zero() && !(q % lot_size).is_zero() => {
                let reason = format!("quantity {q} is not a multiple of the lot size {lot_size}");
                return self.reject(id, &request, now, reason);
            }
            Quantity::Units(q) => Some(q),
            Quantity::EquityFraction(f) if !(f > 0.0 && f <= 1.0) => {
                return self.reject(id, &request, now, format!("equity fraction {f} must be in (0, 1]"));
            }
            Quantity::EquityFraction(_) => None,
        };
        let invalid_price = match request.order_type {
            OrderType::Limit { limit_price: p } | OrderType::Stop { stop_price: p } => p <= Decimal::ZERO,
            OrderType::StopLimit { stop_price, limit_price } => {
                stop_price <= Decimal::ZERO || limit_price <= Decimal::ZERO
            }
            OrderType::TrailingStop { offset: TrailingOffset::Amount(a) | TrailingOffset::Percent(a) } => {
                a <= Decimal::ZERO
            }
            OrderType::Market => false,
        };
        if invalid_price {
            return self.reject(id, &request, now, "prices and trailing offsets must be positive".into());
        }
        let current = self.current[request.instrument];
        let order = WorkingOrder {
            id,
            submitted_bar: current.map(|b| b.index).unwrap_or(0),
            submitted_day,
            units,
            filled: Decimal::ZERO,
            triggered: false,
            trail_extreme: current.map(|b| b.close),
            rested: false,
            same_bar: false,
            request,
        };
        self.event(id, &order.request, now, order.submitted_bar, OrderStatus::Accepted);
        // Filling at the close: market orders execute now, at this bar's close.
        if self.config.fill_timing == FillTiming::Close
            && order.request.order_type == OrderType::Market
            && let Some(bar) = current
        {
            {
                let at_close = VenueBar { open: bar.close, high: bar.close, low: bar.close, ..bar };
                let mut order = order;
                let instrument = order.request.instrument;
                let available = self.bar_allowance(&at_close);
                match self.execute(&mut order, bar.close, &at_close, false, available) {
                    Execution::Partial => self.working[instrument].push(order),
                    Execution::Done => {
                        let mut orders = std::mem::take(&mut self.working[instrument]);
                        self.finish_links(&mut orders, &order, &at_close, 0);
                        orders.append(&mut self.working[instrument]);
                        self.working[instrument] = orders;
                    }
                    Execution::Ended => {}
                }
                return id;
            }
        }
        let instrument = order.request.instrument;
        self.working[instrument].push(order);
        id
    }

    fn cancel(&mut self, order: OrderRef, now: Timestamp) {
        for book in 0..self.working.len() {
            if let Some(pos) = self.working[book].iter().position(|o| o.id == order) {
                let o = self.working[book].remove(pos);
                let bar = o.request.instrument_bar(&self.current);
                self.event(o.id, &o.request, now, bar, OrderStatus::Cancelled { reason: "by the strategy".into() });
                return;
            }
        }
    }

    fn modify(&mut self, order: OrderRef, change: OrderChange, now: Timestamp) {
        for book in 0..self.working.len() {
            if let Some(o) = self.working[book].iter_mut().find(|o| o.id == order) {
                if let Some(q) = change.quantity {
                    o.units = Some(q.max(o.filled));
                }
                match &mut o.request.order_type {
                    OrderType::Limit { limit_price } => {
                        if let Some(p) = change.limit_price {
                            *limit_price = p;
                        }
                    }
                    OrderType::Stop { stop_price } => {
                        if let Some(p) = change.stop_price {
                            *stop_price = p;
                        }
                    }
                    OrderType::StopLimit { stop_price, limit_price } => {
                        if let Some(p) = change.stop_price {
                            *stop_price = p;
                        }
                        if let Some(p) = change.limit_price {
                            *limit_price = p;
                        }
                    }
                    OrderType::Market | OrderType::TrailingStop { .. } => {}
                }
                let request = o.request.clone();
                let bar = request.instrument_bar(&self.current);
                self.event(order, &request, now, bar, OrderStatus::Modified);
                return;
            }
        }
    }

    fn drain(&mut self, fills: &mut Vec<FillEvent>, updates: &mut Vec<OrderEvent>) {
        fills.append(&mut self.fills);
        updates.append(&mut self.updates);
    }

    fn account(&self) -> &Account {
        &self.account
    }
}

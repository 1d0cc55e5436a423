//! The trading environment: episodes over aligned bars of one or many instruments, actions
//! executed by the backtest engine's simulated venue, composable rewards and risk rules.

pub mod config;
pub mod execution;
pub mod market;
pub mod reward;
pub mod stats;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use config::{ActionConfig, ObservationConfig, RewardConfig, RiskConfig, Split, SplitFractions, TradingEnvConfig};
pub use execution::{TargetWeightsStrategy, rebalance_orders};
pub use market::{InstrumentData, MarketData};
pub use stats::EpisodeStats;

use super::env::{Action, Environment, RlError, Space, Step, check_action};
use crate::backtest::account::Account;
use crate::backtest::costs::Fees;
use crate::backtest::order::{FillEvent, OrderEvent, OrderStatus};
use crate::backtest::{BacktestConfig, SimulatedVenue, Venue};
use crate::domain::{Side, Timestamp, decimal_f64};
use reward::{RewardState, StepOutcome};

/// The portfolio part of an observation: a weight per instrument, then cash weight,
/// unrealised P&L and drawdown (fractions of equity).
const PORTFOLIO_EXTRA: usize = 3;

/// An episode in progress.
struct Episode {
    venue: SimulatedVenue,
    t: usize,
    end: usize,
    equity: f64,
    peak: f64,
    curve: Vec<f64>,
    reward: RewardState,
    /// Average entry price per instrument, for the unrealised P&L.
    entry: Vec<f64>,
    traded_notional: f64,
    trades: usize,
    rejected: usize,
}

/// A Gymnasium-style trading environment. Copies (`fresh`) are cheap: the market data are shared.
pub struct TradingEnv {
    name: String,
    market: Arc<MarketData>,
    config: TradingEnvConfig,
    costs: BacktestConfig,
    split: Split,
    has_financing: bool,
    levels: usize,
    episode: Option<Box<Episode>>,
    last_stats: Option<EpisodeStats>,
    /// The bars of the last or current episode's decisions, and their target weights (one row
    /// per decision, one weight per instrument), for replaying it.
    decision_bars: Vec<usize>,
    decision_weights: Vec<f64>,
    /// The target weights of the step being taken (kept to spare an allocation per step).
    weights: Vec<f64>,
    fills: Vec<FillEvent>,
    updates: Vec<OrderEvent>,
    closes: Vec<f64>,
    terms: Vec<execution::SizingTerms>,
}

impl TradingEnv {
    /// An environment over `market` with the trading terms of `costs` (one instrument spec per
    /// instrument of the market, in order).
    pub fn new(
        market: Arc<MarketData>,
        config: TradingEnvConfig,
        costs: BacktestConfig,
        split: Split,
    ) -> Result<Self, RlError> {
        if costs.instruments.len() != market.instruments() {
            return Err(RlError::Invalid(format!(
                "{} instrument specs for {} instruments ({})",
                costs.instruments.len(),
                market.instruments(),
                market.symbols.join(", ")
            )));
        }
        let range = market.split_range(split);
        if range.len() < 2 {
            return Err(RlError::Invalid(format!("the {split:?} split has {} decision points", range.len())));
        }
        if let Some(n) = config.episode_length
            && (n == 0 || n > market.split_range(Split::Train).len())
        {
            return Err(RlError::Invalid(format!(
                "episode_length {n} does not fit the training split's {} decision points",
                market.split_range(Split::Train).len()
            )));
        }
        if !(0.0..1.0).contains(&config.rebalance_band) {
            return Err(RlError::Invalid(format!("rebalance_band {} must be in [0, 1)", config.rebalance_band)));
        }
        let r = &config.risk;
        if !(r.max_position > 0.0 && r.max_leverage > 0.0) {
            return Err(RlError::Invalid("risk: max_position and max_leverage must be positive".into()));
        }
        let levels = match config.actions {
            ActionConfig::Discrete { levels: 0 } => {
                return Err(RlError::Invalid("actions: discrete levels must be at least 1".into()));
            }
            ActionConfig::Discrete { levels } => levels,
            ActionConfig::Continuous => 0,
        };
        let has_financing = costs.instruments.iter().any(|s| matches!(s.fees, Fees::ForexFinancing { .. }));
        let n = market.instruments();
        let terms = execution::sizing_terms(&Account::new(costs.account.clone(), costs.instruments.clone()));
        Ok(Self {
            name: format!("Trading({})", market.symbols.join(",")),
            market,
            config,
            costs,
            split,
            has_financing,
            levels,
            episode: None,
            last_stats: None,
            decision_bars: Vec::new(),
            decision_weights: Vec::new(),
            weights: Vec::with_capacity(n),
            fills: Vec::new(),
            updates: Vec::new(),
            closes: vec![0.0; n],
            terms,
        })
    }

    /// Another environment over the same data and settings, with no episode started (for
    /// vectorised training).
    pub fn fresh(&self) -> Self {
        Self {
            name: self.name.clone(),
            market: self.market.clone(),
            config: self.config.clone(),
            costs: self.costs.clone(),
            split: self.split,
            has_financing: self.has_financing,
            levels: self.levels,
            episode: None,
            last_stats: None,
            decision_bars: Vec::new(),
            decision_weights: Vec::new(),
            weights: Vec::with_capacity(self.closes.len()),
            fills: Vec::new(),
            updates: Vec::new(),
            closes: self.closes.clone(),
            terms: self.terms.clone(),
        }
    }

    /// The same environment over another split (validation or test).
    pub fn with_split(&self, split: Split) -> Result<Self, RlError> {
        Self::new(self.market.clone(), self.config.clone(), self.costs.clone(), split)
    }

    pub fn market(&self) -> &MarketData {
        &self.market
    }

    /// The account, venue and instrument terms it trades under.
    pub fn costs(&self) -> &BacktestConfig {
        &self.costs
    }

    pub fn config(&self) -> &TradingEnvConfig {
        &self.config
    }

    /// Statistics of the last finished episode.
    pub fn episode_stats(&self) -> Option<&EpisodeStats> {
        self.last_stats.as_ref()
    }

    /// The (bar, target weights) decisions of the current or last episode.
    pub fn decisions(&self) -> impl DoubleEndedIterator<Item = (usize, &[f64])> + '_ {
        self.decision_bars.iter().copied().zip(self.decision_weights.chunks(self.market.instruments()))
    }

    fn allow_short(&self) -> bool {
        self.costs.account.allow_short
    }

    /// Exposure steps per instrument of the discrete action.
    fn choices(&self) -> usize {
        if self.allow_short() { 2 * self.levels + 1 } else { self.levels + 1 }
    }

    /// The action as target weights, projected onto the position and leverage limits.
    pub fn target_weights(&self, action: &Action) -> Vec<f64> {
        let mut w = Vec::with_capacity(self.market.instruments());
        self.write_target_weights(action, &mut w);
        w
    }

    /// [`Self::target_weights`] into `w` (cleared first).
    fn write_target_weights(&self, action: &Action, w: &mut Vec<f64>) {
        let n = self.market.instruments();
        let risk = &self.config.risk;
        w.clear();
        match action {
            Action::Discrete(index) => {
                let choices = self.choices();
                let shift = if self.allow_short() { self.levels as f64 } else { 0.0 };
                let mut rest = *index;
                w.extend((0..n).map(|_| {
                    let digit = rest % choices;
                    rest /= choices;
                    (digit as f64 - shift) / self.levels as f64
                }));
            }
            Action::Continuous(v) => w.extend_from_slice(v),
        }
        let floor = if self.allow_short() { -1.0 } else { 0.0 };
        for x in w.iter_mut() {
            *x = x.clamp(floor, 1.0) * risk.max_position;
        }
        let gross: f64 = w.iter().map(|x| x.abs()).sum();
        if gross > risk.max_leverage {
            let scale = risk.max_leverage / gross;
            w.iter_mut().for_each(|x| *x *= scale);
        }
    }

    fn observation_dim(&self) -> usize {
        let m = &self.market;
        let o = &self.config.observation;
        let n = m.instruments();
        let mut dim = m.model_width() * n;
        if o.features {
            dim += m.window * n * m.feature_columns.len();
        }
        if o.portfolio {
            dim += n + PORTFOLIO_EXTRA;
        }
        dim
    }

    fn load_closes(&mut self, t: usize) {
        for (k, bars) in self.market.bars.iter().enumerate() {
            self.closes[k] = bars.close[t];
        }
    }

    fn observe(&self, ep: &Episode) -> Vec<f32> {
        let mut obs = Vec::with_capacity(self.observation_dim());
        let m = &self.market;
        if self.config.observation.features {
            m.push_window(ep.t, &mut obs);
        }
        m.push_model(ep.t, &mut obs);
        if self.config.observation.portfolio {
            let account = ep.venue.account();
            let mut unrealised = 0.0;
            let equity = ep.equity.max(f64::MIN_POSITIVE);
            let mut invested = 0.0;
            for (k, close) in self.closes.iter().enumerate() {
                let q = account.position_f64(k);
                let value = q * close * self.multiplier(k);
                invested += value;
                unrealised += q * (close - ep.entry[k]) * self.multiplier(k);
                obs.push((value / equity) as f32);
            }
            obs.push(((ep.equity - invested) / equity) as f32);
            obs.push((unrealised / equity) as f32);
            obs.push((1.0 - ep.equity / ep.peak.max(f64::MIN_POSITIVE)) as f32);
        }
        obs
    }

    fn multiplier(&self, k: usize) -> f64 {
        self.terms[k].multiplier
    }

    fn venue_bar(&self, k: usize, t: usize) -> crate::backtest::venue::VenueBar {
        self.market.bars[k].venue_bar(t)
    }

    /// Moves fills and order updates out of the venue into the episode's counters.
    fn settle(&mut self) -> f64 {
        let Some(ep) = self.episode.as_mut() else { return 0.0 };
        ep.venue.drain(&mut self.fills, &mut self.updates);
        let mut costs = 0.0;
        for fill in self.fills.drain(..) {
            let k = fill.instrument;
            let multiplier = self.terms[k].multiplier;
            let q = decimal_f64(fill.quantity);
            let price = decimal_f64(fill.price);
            costs += decimal_f64(fill.fee) + decimal_f64(fill.slippage) * q * multiplier;
            ep.traded_notional += q * price * multiplier;
            ep.trades += 1;
            // Average entry price of the position after the fill.
            let after = ep.venue.account().position_f64(k);
            let signed = if fill.side == Side::Buy { q } else { -q };
            let before = after - signed;
            ep.entry[k] = if after == 0.0 {
                0.0
            } else if before == 0.0 || before.signum() != after.signum() {
                price
            } else if after.abs() > before.abs() {
                (ep.entry[k] * before.abs() + price * q) / after.abs()
            } else {
                ep.entry[k]
            };
        }
        for update in self.updates.drain(..) {
            if matches!(update.status, OrderStatus::Rejected { .. }) {
                ep.rejected += 1;
            }
        }
        costs
    }

    fn finish(&mut self, stopped_out: bool) {
        if let Some(ep) = &self.episode {
            self.last_stats = Some(EpisodeStats::from_equity(
                &ep.curve,
                self.market.periods_per_year,
                ep.traded_notional,
                ep.trades,
                ep.rejected,
                stopped_out,
            ));
        }
    }
}

impl Environment for TradingEnv {
    fn name(&self) -> &str {
        &self.name
    }

    fn observation_space(&self) -> Space {
        let dim = self.observation_dim();
        Space::Box { low: vec![f64::NEG_INFINITY; dim], high: vec![f64::INFINITY; dim] }
    }

    fn action_space(&self) -> Space {
        let n = self.market.instruments();
        match self.config.actions {
            ActionConfig::Discrete { .. } => Space::Discrete(self.choices().pow(n as u32)),
            ActionConfig::Continuous => {
                let low = if self.allow_short() { -1.0 } else { 0.0 };
                Space::Box { low: vec![low; n], high: vec![1.0; n] }
            }
        }
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let range = self.market.split_range(self.split);
        let (start, end) = match (self.split, self.config.episode_length) {
            (Split::Train, Some(n)) => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let start = range.start + rng.random_range(0..=range.len() - n);
                (start, start + n)
            }
            _ => (range.start, range.end),
        };
        let mut account = Account::new(self.costs.account.clone(), self.costs.instruments.clone());
        crate::backtest::engine::link_fx_pairs(&mut account, &self.costs);
        // The episode reads every order event from `drain`; the venue need not keep a log of them.
        let mut venue = SimulatedVenue::new(self.costs.venue.clone(), account).without_order_log();
        // The venue's slippage statistics warm up on the bars before the start.
        for t in start.saturating_sub(20)..=start {
            for k in 0..self.market.instruments() {
                venue.on_bar(k, self.venue_bar(k, t));
            }
        }
        self.load_closes(start);
        let equity = venue.account().mark_f64(&self.closes);
        let n = self.market.instruments();
        let ep = Episode {
            venue,
            t: start,
            end,
            equity,
            peak: equity,
            curve: vec![equity],
            reward: RewardState::default(),
            entry: vec![0.0; n],
            traded_notional: 0.0,
            trades: 0,
            rejected: 0,
        };
        self.decision_bars.clear();
        self.decision_weights.clear();
        let obs = self.observe(&ep);
        self.episode = Some(Box::new(ep));
        obs
    }

    fn step(&mut self, action: &Action) -> Result<Step, RlError> {
        check_action(&self.name, &self.action_space(), action, false)?;
        let mut weights = std::mem::take(&mut self.weights);
        self.write_target_weights(action, &mut weights);
        let Some(ep) = self.episode.as_mut() else {
            return Err(RlError::NotReset { env: self.name.clone() });
        };
        if ep.t >= ep.end {
            return Err(RlError::Invalid(format!("{}: step() after the episode ended; call reset()", self.name)));
        }
        let t = ep.t;
        let now = Timestamp::from_nanos(self.market.bars[0].ts[t]);
        let equity_before = ep.equity;
        let drawdown_before = 1.0 - ep.equity / ep.peak;
        for order in rebalance_orders(
            ep.venue.account(),
            &self.terms,
            &weights,
            &self.closes,
            equity_before,
            self.config.rebalance_band,
        ) {
            ep.venue.submit(order, now);
        }
        self.decision_bars.push(t);
        self.decision_weights.extend_from_slice(&weights);
        self.weights = weights;
        let mut costs = self.settle();
        let next = t + 1;
        let ep = self.episode.as_mut().ok_or_else(|| RlError::NotReset { env: self.name.clone() })?;
        if self.has_financing
            && now.nanos().div_euclid(86_400_000_000_000) != self.market.bars[0].ts[next].div_euclid(86_400_000_000_000)
        {
            ep.venue.roll_day();
        }
        for k in 0..self.closes.len() {
            let bar = self.market.bars[k].venue_bar(next);
            ep.venue.on_bar(k, bar);
        }
        costs += self.settle();
        self.load_closes(next);
        let ep = self.episode.as_mut().ok_or_else(|| RlError::NotReset { env: self.name.clone() })?;
        let account = ep.venue.account();
        let equity = account.mark_f64(&self.closes);
        let mut gross = 0.0;
        for (k, close) in self.closes.iter().enumerate() {
            gross += (account.position_f64(k) * close).abs() * self.terms[k].multiplier;
        }
        ep.t = next;
        ep.equity = equity;
        ep.peak = ep.peak.max(equity);
        ep.curve.push(equity);
        let drawdown_after = if ep.peak > 0.0 { 1.0 - equity / ep.peak } else { 1.0 };
        let outcome = StepOutcome {
            equity_before,
            equity_after: equity,
            costs,
            gross_exposure: gross / equity_before.max(f64::MIN_POSITIVE),
            drawdown_before,
            drawdown_after,
        };
        let reward = ep.reward.reward(&self.config.reward, &outcome);
        let stopped_out = equity <= 0.0 || self.config.risk.max_drawdown.is_some_and(|limit| drawdown_after >= limit);
        let truncated = !stopped_out && next >= ep.end;
        if stopped_out {
            // Close everything at the stop bar (fills at once with close timing).
            let zero = vec![0.0; self.closes.len()];
            let ts = Timestamp::from_nanos(self.market.bars[0].ts[next]);
            for order in rebalance_orders(ep.venue.account(), &self.terms, &zero, &self.closes, equity, 0.0) {
                ep.venue.submit(order, ts);
            }
            self.settle();
            if let Some(ep) = self.episode.as_mut() {
                let closed = self.closes.clone();
                let after = ep.venue.account().mark_f64(&closed);
                if let Some(last) = ep.curve.last_mut() {
                    *last = after;
                }
                ep.equity = after;
            }
        }
        let observation = match &self.episode {
            Some(ep) => self.observe(ep),
            None => Vec::new(),
        };
        if stopped_out || truncated {
            self.finish(stopped_out);
        }
        Ok(Step { observation, reward, terminated: stopped_out, truncated })
    }
}

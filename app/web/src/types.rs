//! What the pages show, as plain serialisable records shared by the server functions (which
//! fill them from the tracking store) and the browser (which renders them after hydration).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an account may do. Ordered: each role can do everything the one before it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Logs runs, starts backtests, registers and promotes models.
    Researcher,
    /// Everything, and manages users and keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Researcher, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Researcher => "researcher",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether this role may change state (log, start, promote).
    pub fn can_write(self) -> bool {
        self >= Role::Researcher
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

/// The account a request acts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
}

impl Identity {
    /// Whose API keys this account may list and revoke: its own, or (None) everyone's for an
    /// administrator.
    pub fn key_owner_scope(&self) -> Option<&str> {
        (!self.role.is_admin()).then_some(self.name.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRow {
    pub id: String,
    pub name: String,
    pub lifecycle_stage: String,
    pub last_update_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub run_id: String,
    pub experiment_id: String,
    pub name: String,
    pub status: String,
    pub user: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
}

/// One experiment's runs as a table: the chosen columns, sorted and filtered on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunsTable {
    pub experiment: ExperimentRow,
    pub runs: Vec<RunRow>,
    /// Every param and metric key seen in the experiment, for the column chooser.
    pub param_keys: Vec<String>,
    pub metric_keys: Vec<String>,
    /// A filter the search grammar refused, with the reason.
    pub filter_error: Option<String>,
    /// Runs matching the filter, of which `runs` is page `page` (from 0) of `page_size`.
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
}

/// A metric's history, downsampled for display (`total` is how many points were logged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub total: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactEntry {
    pub path: String,
    pub size: u64,
    pub download_url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunRow,
    pub experiment_name: String,
    pub tags: BTreeMap<String, String>,
    pub series: Vec<Series>,
    pub artifacts: Vec<ArtifactEntry>,
    /// Data hash, feature-spec hash, code version, seed, parent run: what the run was made from.
    pub lineage: Vec<(String, String)>,
    pub parent_run: Option<String>,
}

/// Several runs side by side: their params as rows, and each metric's curves overlaid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub runs: Vec<RunRow>,
    pub param_keys: Vec<String>,
    /// Per metric key, one series per run (named by the run).
    pub metrics: Vec<(String, Vec<Series>)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub name: String,
    pub description: String,
    pub latest_version: Option<i64>,
    pub aliases: Vec<(String, i64)>,
    pub updated_ms: i64,
}

impl ModelRow {
    /// The version the `champion` alias points at: what serving and live trading load.
    pub fn champion(&self) -> Option<i64> {
        self.aliases.iter().find(|(a, _)| a == "champion").map(|(_, v)| *v)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: i64,
    pub run_id: String,
    pub source: String,
    pub user: String,
    pub created_ms: i64,
    pub stage: String,
    pub aliases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    pub alias: String,
    pub version: Option<String>,
    pub previous: Option<String>,
    pub by: String,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelDetail {
    pub model: ModelRow,
    pub versions: Vec<VersionRow>,
    pub history: Vec<AliasMove>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub recent_runs: Vec<RunRow>,
    pub backtests: Vec<RunRow>,
    pub models: Vec<ModelRow>,
    pub experiments: usize,
    pub datasets: usize,
}

/// One dataset of the catalog with its quality summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRow {
    pub symbol: String,
    pub timeframe: String,
    pub bars: u64,
    pub first: String,
    pub last: String,
    pub quality: String,
    /// The stored quality report as text (missing bars against the calendar, duplicates,
    /// invalid prices, outliers, stale prices, volume anomalies), when one was recorded.
    pub report: Option<String>,
}

/// A finished (or running) backtest: its run, and the curves and trades from its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestDetail {
    pub run: RunRow,
    pub equity: Option<Series>,
    pub drawdown: Option<Series>,
    pub trades: Vec<TradeRow>,
    pub total_trades: usize,
    pub report_url: Option<String>,
}

/// Where a backtest started from the page is: a sentence, and the bars simulated of all bars
/// while it simulates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    pub text: String,
    pub progress: Option<(usize, usize)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeRow {
    pub symbol: String,
    pub side: String,
    pub size: String,
    pub entry_time: String,
    pub exit_time: String,
    pub entry_price: String,
    pub exit_price: String,
    pub pnl: String,
}

/// What the backtest form offers: the catalog's symbols and the shipped strategies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestChoices {
    pub symbols: Vec<String>,
    pub strategies: Vec<String>,
}

/// An API key as listings show it: never the secret, only its first characters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user: String,
    /// The key's first characters (`sxk_` and six more), to tell keys apart.
    pub prefix: String,
    pub label: String,
    pub created_ms: i64,
    /// To the minute; None if never used.
    pub last_used_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_ms: i64,
}

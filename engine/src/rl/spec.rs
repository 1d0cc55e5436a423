//! The RL experiment spec (TOML): data, features, the trading environment, trading costs, the
//! algorithm and its settings, and where the run is tracked. Errors name the file and field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ppo::PpoConfig;
use super::rainbow::RainbowConfig;
use super::sac::SacConfig;
use super::td3::Td3Config;
use super::trading::TradingEnvConfig;
use crate::backtest::costs::{Fees, Slippage};
use crate::backtest::{AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, VenueConfig};
use crate::domain::Decimal;
use crate::features::FeatureSpec;
use crate::models::ModelError;
use crate::models::spec::{OneOrMany, RegistrySection, resolve_data_paths};

/// The learning algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Ppo,
    Sac,
    Td3,
    Rainbow,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ppo => "ppo",
            Self::Sac => "sac",
            Self::Td3 => "td3",
            Self::Rainbow => "rainbow",
        }
    }

    /// Whether the algorithm acts in discrete (`false`) or continuous (`true`) action spaces.
    pub fn acts_in(self, continuous: bool) -> bool {
        match self {
            Self::Ppo => true,
            Self::Sac | Self::Td3 => continuous,
            Self::Rainbow => !continuous,
        }
    }
}

/// Where the bars come from; `instruments` picks columns of a panel file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlDataSection {
    pub path: Option<OneOrMany>,
    pub symbol: Option<OneOrMany>,
    pub timeframe: Option<String>,
    pub instruments: Option<Vec<String>>,
}

/// Trading terms, the same for every instrument.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostsSection {
    pub base_currency: String,
    pub initial_cash: Decimal,
    pub margin: Decimal,
    pub allow_short: bool,
    pub fill_timing: FillTiming,
    pub fees: Fees,
    pub slippage: Slippage,
    pub lot_size: Decimal,
    pub multiplier: Decimal,
}

impl Default for CostsSection {
    fn default() -> Self {
        Self {
            base_currency: "USD".into(),
            initial_cash: Decimal::from(100_000),
            margin: Decimal::ONE,
            allow_short: true,
            fill_timing: FillTiming::NextOpen,
            fees: Fees::Percent { rate: Decimal::new(1, 3) },
            slippage: Slippage::None,
            lot_size: Decimal::new(1, 2),
            multiplier: Decimal::ONE,
        }
    }
}

impl CostsSection {
    pub fn backtest_config(&self, symbols: &[String]) -> BacktestConfig {
        BacktestConfig {
            account: AccountConfig {
                base_currency: self.base_currency.clone(),
                initial_cash: self.initial_cash,
                margin: self.margin,
                maintenance_margin: None,
                allow_short: self.allow_short,
            },
            venue: VenueConfig { fill_timing: self.fill_timing, max_participation: None },
            instruments: symbols
                .iter()
                .map(|s| InstrumentSpec {
                    symbol: s.clone(),
                    currency: self.base_currency.clone(),
                    lot_size: self.lot_size,
                    multiplier: self.multiplier,
                    fees: self.fees.clone(),
                    slippage: self.slippage.clone(),
                    calendar: None,
                    borrow_rate: Decimal::ZERO,
                })
                .collect(),
            benchmark: None,
            risk_free_rate: 0.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RlSpec {
    pub origin: PathBuf,
    /// The spec's text, stored with the agent so evaluation rebuilds the same environment.
    pub text: String,
    pub name: String,
    pub seed: u64,
    pub algorithm: Algorithm,
    pub data: RlDataSection,
    pub feature_spec: FeatureSpec,
    pub environment: TradingEnvConfig,
    pub costs: CostsSection,
    pub ppo: PpoConfig,
    pub sac: SacConfig,
    pub td3: Td3Config,
    pub rainbow: RainbowConfig,
    pub registry: RegistrySection,
}

const KNOWN: [&str; 13] = [
    "name",
    "seed",
    "algorithm",
    "data",
    "features",
    "environment",
    "costs",
    "ppo",
    "sac",
    "td3",
    "rainbow",
    "registry",
    "total_steps",
];

impl RlSpec {
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let file = origin.display().to_string();
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ModelError::spec(&file, "(syntax)", e.message()))?;
        if let Some(key) = table.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ModelError::spec(&file, key, format!("unknown key (expected one of {})", KNOWN.join(", "))));
        }
        fn section<T: serde::de::DeserializeOwned + Default>(
            table: &toml::Table,
            key: &str,
            file: &str,
        ) -> Result<T, ModelError> {
            match table.get(key) {
                None => Ok(T::default()),
                Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| ModelError::spec(file, key, e.message())),
            }
        }
        let name = match table.get("name") {
            Some(v) => v.as_str().ok_or_else(|| ModelError::spec(&file, "name", "must be a string"))?.to_string(),
            None => origin.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "agent".into()),
        };
        let seed = match table.get("seed") {
            Some(v) => {
                let s = v.as_integer().ok_or_else(|| ModelError::spec(&file, "seed", "must be an integer"))?;
                u64::try_from(s).map_err(|_| ModelError::spec(&file, "seed", format!("must be >= 0, got {s}")))?
            }
            None => 42,
        };
        let algorithm: Algorithm = match table.get("algorithm") {
            Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| {
                ModelError::spec(&file, "algorithm", format!("{} (expected ppo, sac, td3 or rainbow)", e.message()))
            })?,
            None => return Err(ModelError::spec(&file, "algorithm", "missing: ppo, sac, td3 or rainbow")),
        };
        let data: RlDataSection = section(&table, "data", &file)?;
        if data.path.is_none() == data.symbol.is_none() {
            return Err(ModelError::spec(&file, "data", "give exactly one of path and symbol"));
        }
        let features = table.get("features").and_then(|v| v.as_table()).ok_or_else(|| {
            ModelError::spec(&file, "features", "missing: a [features] table with [[features.feature]]")
        })?;
        let feature_toml = toml::to_string(features).map_err(|e| ModelError::spec(&file, "features", e.to_string()))?;
        let feature_spec = FeatureSpec::parse(&feature_toml, &format!("{file} [features]"))
            .map_err(|e| ModelError::spec(&file, "features", e.to_string()))?;
        let environment: TradingEnvConfig = section(&table, "environment", &file)?;
        let continuous = matches!(environment.actions, super::trading::ActionConfig::Continuous);
        if !algorithm.acts_in(continuous) {
            let needs = if continuous { "discrete" } else { "continuous" };
            return Err(ModelError::spec(
                &file,
                "environment.actions",
                format!("{} needs {needs} actions: kind = \"{needs}\"", algorithm.name()),
            ));
        }
        let mut ppo: PpoConfig = section(&table, "ppo", &file)?;
        let mut sac: SacConfig = section(&table, "sac", &file)?;
        let mut td3: Td3Config = section(&table, "td3", &file)?;
        let mut rainbow: RainbowConfig = section(&table, "rainbow", &file)?;
        ppo.seed = seed;
        sac.common.seed = seed;
        td3.common.seed = seed;
        rainbow.seed = seed;
        if let Some(v) = table.get("total_steps") {
            let steps = v
                .as_integer()
                .and_then(|s| usize::try_from(s).ok())
                .filter(|s| *s > 0)
                .ok_or_else(|| ModelError::spec(&file, "total_steps", "must be a positive integer"))?;
            ppo.total_steps = steps;
            sac.common.total_steps = steps;
            td3.common.total_steps = steps;
            rainbow.total_steps = steps;
        }
        let mut registry: RegistrySection = section(&table, "registry", &file)?;
        if registry.model_name.is_empty() {
            registry.model_name = name.clone();
        }
        if registry.experiment == RegistrySection::default().experiment {
            registry.experiment = "Reinforcement learning".into();
        }
        Ok(Self {
            origin: origin.to_path_buf(),
            text: text.to_string(),
            name,
            seed,
            algorithm,
            data,
            feature_spec,
            environment,
            costs: section(&table, "costs", &file)?,
            ppo,
            sac,
            td3,
            rainbow,
            registry,
        })
    }

    /// Total environment steps of the chosen algorithm.
    pub fn total_steps(&self) -> usize {
        match self.algorithm {
            Algorithm::Ppo => self.ppo.total_steps,
            Algorithm::Sac => self.sac.common.total_steps,
            Algorithm::Td3 => self.td3.common.total_steps,
            Algorithm::Rainbow => self.rainbow.total_steps,
        }
    }

    /// Data files, relative to the working directory, else to the spec's folder or its parents.
    pub fn data_paths(&self) -> Vec<PathBuf> {
        resolve_data_paths(self.data.path.as_ref(), &self.origin)
    }
}

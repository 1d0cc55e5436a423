//! Temporary: P&L attribution until `significance` lands.
//! (Replaced by `significance::attribute`.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributionSummary {
    pub pnl: f64,
    pub count: usize,
    pub win_rate: f64,
}

pub fn attribute(pnls: &[(String, f64)]) -> BTreeMap<String, AttributionSummary> {
    let mut out: BTreeMap<String, (f64, usize, usize)> = BTreeMap::new();
    for (k, p) in pnls {
        let e = out.entry(k.clone()).or_default();
        e.0 += p;
        e.1 += 1;
        e.2 += usize::from(*p > 0.0);
    }
    out.into_iter()
        .map(|(k, (pnl, count, wins))| (k, AttributionSummary { pnl, count, win_rate: wins as f64 / count as f64 }))
        .collect()
}

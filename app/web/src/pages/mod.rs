//! The pages of the control plane, one module each, and what they share: loading and error
//! states, number and time formatting.

mod account;
mod backtests;
mod chart;
mod data;
mod experiments;
mod live;
mod login;
mod models;
mod overview;
mod run;

pub use account::AccountPage;
pub use backtests::{BacktestPage, BacktestsPage};
pub use data::DataPage;
pub use experiments::{ComparePage, ExperimentPage, ExperimentsPage};
pub use login::LoginPage;
pub use models::{ModelPage, ModelsPage};
pub use overview::OverviewPage;
pub use run::RunPage;

use leptos::prelude::*;

pub fn loading() -> impl IntoView {
    view! { <p class="muted" role="status">"Loading…"</p> }
}

pub fn failure(e: ServerFnError) -> AnyView {
    let text = match e {
        ServerFnError::ServerError(msg) => msg,
        other => other.to_string(),
    };
    view! { <p class="error" role="alert">{text}</p> }.into_any()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM UTC` (no time-zone data in the browser build).
pub fn fmt_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// A metric value with as many digits as it deserves.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:.4e}")
    } else if a >= 1000.0 {
        format!("{v:.2}")
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_milliseconds_as_utc() {
        assert_eq!(fmt_ms(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:45:00 UTC, a leap day.
        assert_eq!(fmt_ms(1_709_214_300_000), "2024-02-29 13:45 UTC");
    }

    #[test]
    fn formats_metrics_readably() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(12345.678), "12345.68");
        assert_eq!(fmt_num(1.5e-7), "1.5000e-7");
        assert_eq!(fmt_num(-3.0), "-3");
    }
}

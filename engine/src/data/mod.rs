//! Market data: importing files of many formats, the Parquet catalog, resampling, quality
//! checks against market calendars, multi-venue alignment and synthetic bars.

pub mod calendar;
pub mod catalog;
pub mod import;
pub mod quality;
pub mod resample;
pub mod series;
pub mod sync;
pub mod synth;

pub use series::{BarSeries, FloatBars, LabelledSeries, SeriesFields};

//! What the benchmarks share: environment overrides, medians and the raw series handed to the
//! Python references.
#![allow(dead_code)]

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Writes columns of equal length one after another as little-endian f64, the raw series the
/// Python reference scripts read with `np.fromfile`, and syncs it to disk: hundreds of MB left
/// dirty would be written back by the kernel about 30 s later, in the middle of the timed
/// rounds, and slow whichever side it overlapped.
pub fn write_raw_columns(path: &std::path::Path, columns: &[&[f64]]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for col in columns {
        for v in col.iter() {
            f.write_all(&v.to_le_bytes())?;
        }
    }
    f.flush()?;
    f.get_ref().sync_all()
}

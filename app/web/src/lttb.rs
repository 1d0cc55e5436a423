//! Largest-Triangle-Three-Buckets downsampling: keeps a long series' shape (peaks, troughs,
//! drawdowns) in a few hundred points, so 100,000-point curves stay readable and light.

/// Downsamples `points` (x ascending) to at most `threshold` points; keeps first and last.
pub fn lttb(points: &[(f64, f64)], threshold: usize) -> Vec<(f64, f64)> {
    let n = points.len();
    if threshold >= n || threshold < 3 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(threshold);
    out.push(points[0]);
    // The interior points split into threshold - 2 buckets of (nearly) equal size.
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut chosen = 0usize;
    for bucket in 0..threshold - 2 {
        let start = (bucket as f64 * every) as usize + 1;
        let end = (((bucket + 1) as f64 * every) as usize + 1).min(n - 1);
        // The next bucket's average is the third corner of the triangle.
        let next_start = end;
        let next_end = ((((bucket + 2) as f64) * every) as usize + 1).min(n);
        let span = (next_end - next_start).max(1) as f64;
        let (mut avg_x, mut avg_y) = (0.0, 0.0);
        for p in &points[next_start..next_end.max(next_start + 1).min(n)] {
            avg_x += p.0;
            avg_y += p.1;
        }
        avg_x /= span;
        avg_y /= span;
        let a = points[chosen];
        let mut best = start;
        let mut best_area = -1.0;
        for (i, p) in points.iter().enumerate().take(end.max(start + 1)).skip(start) {
            let area = ((a.0 - avg_x) * (p.1 - a.1) - (a.0 - p.0) * (avg_y - a.1)).abs();
            if area > best_area {
                best_area = area;
                best = i;
            }
        }
        out.push(points[best]);
        chosen = best;
    }
    out.push(points[n - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_short_series_whole() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(lttb(&pts, 100), pts);
    }

    #[test]
    fn keeps_the_extremes_a_trader_looks_for() {
        // A flat line with one crash and one spike: both must survive 100,000 -> 500 points.
        let mut pts: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, 100.0)).collect();
        pts[31_337].1 = 20.0;
        pts[77_777].1 = 250.0;
        let out = lttb(&pts, 500);
        assert_eq!(out.len(), 500);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[499], pts[99_999]);
        assert!(out.contains(&(31_337.0, 20.0)));
        assert!(out.contains(&(77_777.0, 250.0)));
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "x stays in order");
    }
}

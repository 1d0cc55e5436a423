//! The standard normal law behind the significance statistics: Φ, φ and Φ⁻¹ to about 1e-15 relative error,
//! written out because the engine carries no statistics crate (tested against mpmath and scipy).

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// Below this |x| the cdf comes from the power series, above it from the continued fraction; both stay within
/// about 7e-16 relative error there (checked against mpmath in the tests).
const SERIES_LIMIT: f64 = 0.8;

/// `exp(-y²/2)`, with the rounding error of `y²` folded back in: it is worth ~y²·1e-16 relative in the tail.
fn gauss(y: f64) -> f64 {
    let h = y * y;
    let l = y.mul_add(y, -h);
    (-0.5 * h).exp() * (1.0 - 0.5 * l)
}

/// `(Φ(y) - 1/2) / φ(y) = Σ y^(2k+1) / (2k+1)!!`: positive terms, so no cancellation (Marsaglia 2004).
fn half_width_series(y: f64) -> f64 {
    let y2 = y * y;
    let (mut term, mut sum, mut k) = (y, y, 1.0);
    while term > 0.25 * f64::EPSILON * sum {
        k += 2.0;
        term *= y2 / k;
        sum += term;
    }
    sum
}

/// Mills ratio `Φ(-y) / φ(y)` from Laplace's continued fraction `1/(y+1/(y+2/(y+3/(y+…))))`, evaluated
/// bottom-up (stable); the depth grows like 1/y² and was sized to converge to full precision for y ≥ 0.8.
fn mills_ratio(y: f64) -> f64 {
    let depth = (1000.0 / (y * y)) as usize + 30;
    let mut t = y;
    for k in (1..=depth).rev() {
        t = y + k as f64 / t;
    }
    1.0 / t
}

/// Standard normal cumulative distribution function Φ(x), relative error ≲ 1e-15 (also in the lower tail).
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let y = x.abs();
    if y < SERIES_LIMIT {
        let half = FRAC_1_SQRT_2PI * gauss(y) * half_width_series(y);
        return if x < 0.0 { 0.5 - half } else { 0.5 + half };
    }
    // Φ(-40) is below the smallest subnormal.
    let tail = if y > 40.0 { 0.0 } else { FRAC_1_SQRT_2PI * gauss(y) * mills_ratio(y) };
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// Standard normal density φ(x).
pub fn normal_pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * gauss(x.abs())
}

/// Standard normal quantile Φ⁻¹(p): `-inf` at 0, `inf` at 1, NaN outside [0, 1]; relative error ≲ 1e-15.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    // 1 - p is exact for p in [1/2, 1], so the upper half reuses the (relatively accurate) lower tail.
    if p > 0.5 { -lower_quantile(1.0 - p) } else { lower_quantile(p) }
}

/// Φ⁻¹(p) for 0 < p < 1/2: Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) polished by Newton's method, on
/// Φ(x) - 1/2 near the centre and on ln Φ(x) in the tail so that tiny p neither cancels nor underflows.
fn lower_quantile(p: f64) -> f64 {
    let t = (-2.0 * p.ln()).sqrt();
    let mut x = -(t
        - (2.515_517 + t * (0.802_853 + t * 0.010_328)) / (1.0 + t * (1.432_788 + t * (0.189_269 + t * 0.001_308))));
    let ln_p = p.ln();
    // p - 1/2 is exact for p in [1/4, 1/2] (Sterbenz).
    let central = p >= 0.25;
    for _ in 0..12 {
        let y = x.abs();
        let step = if central {
            let half = half_width_series(y);
            let diff = if x < 0.0 { -half } else { half };
            diff - (p - 0.5) / (FRAC_1_SQRT_2PI * gauss(y))
        } else if y >= SERIES_LIMIT {
            let m = mills_ratio(y);
            let ln_cdf = m.ln() - 0.5 * y * y - LN_SQRT_2PI;
            (ln_cdf - ln_p) * m
        } else {
            let pdf = FRAC_1_SQRT_2PI * gauss(y);
            let cdf = 0.5 - pdf * half_width_series(y);
            (cdf.ln() - ln_p) * cdf / pdf
        };
        x -= step;
        if step.abs() <= 0.5 * f64::EPSILON * x.abs() {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const REFERENCE: &str = include_str!("../../../tests/reference/backtest/significance.json");

    #[derive(Deserialize)]
    struct CdfCase {
        x: f64,
        scipy: f64,
        exact: f64,
        pdf: f64,
    }

    #[derive(Deserialize)]
    struct QuantileCase {
        p: f64,
        scipy: f64,
        exact: f64,
    }

    #[derive(Deserialize)]
    struct Reference {
        normal_cdf: Vec<CdfCase>,
        normal_quantile: Vec<QuantileCase>,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE).unwrap()
    }

    fn rel_err(got: f64, want: f64) -> f64 {
        if got == want { 0.0 } else { (got - want).abs() / want.abs().max(f64::MIN_POSITIVE) }
    }

    #[test]
    fn normal_cdf_matches_mpmath_and_scipy() {
        let (mut worst_exact, mut worst_scipy) = (0.0f64, 0.0f64);
        for c in reference().normal_cdf {
            let got = normal_cdf(c.x);
            let e = rel_err(got, c.exact);
            assert!(e <= 1e-15, "Φ({}) = {got:e}, exact {:e}, rel err {e:e}", c.x, c.exact);
            assert!(rel_err(normal_pdf(c.x), c.pdf) <= 1e-15, "φ({})", c.x);
            worst_exact = worst_exact.max(e);
            worst_scipy = worst_scipy.max(rel_err(got, c.scipy));
            // Symmetry holds to the absolute precision of values near 1.
            assert!((normal_cdf(c.x) + normal_cdf(-c.x) - 1.0).abs() <= 2.3e-16, "symmetry at {}", c.x);
        }
        // scipy's ndtr itself drifts by ~1e-14 in the far tail (x/√2 is rounded before erfc).
        assert!(worst_scipy <= 5e-13, "vs scipy {worst_scipy:e}");
        eprintln!("normal_cdf: worst rel err vs mpmath {worst_exact:e}, vs scipy {worst_scipy:e}");
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(-45.0), 0.0);
        assert!(normal_cdf(f64::NAN).is_nan());
    }

    #[test]
    fn normal_quantile_matches_mpmath_and_scipy() {
        let mut worst = 0.0f64;
        for c in reference().normal_quantile {
            let got = normal_quantile(c.p);
            let e = rel_err(got, c.exact);
            assert!(e <= 1e-15, "Φ⁻¹({:e}) = {got:e}, exact {:e}, rel err {e:e}", c.p, c.exact);
            assert!(rel_err(got, c.scipy) <= 1e-13, "Φ⁻¹({:e}) vs scipy {:e}", c.p, c.scipy);
            worst = worst.max(e);
            if c.p < 0.5 {
                // Φ amplifies a relative error in x by about x², so the round trip is checked to that scale.
                let tol = 4.0 * f64::EPSILON * (1.0 + got * got);
                assert!(rel_err(normal_cdf(got), c.p) <= tol, "round trip at {:e}", c.p);
            }
        }
        eprintln!("normal_quantile: worst rel err vs mpmath {worst:e}");
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert_eq!(normal_quantile(0.5), 0.0);
        for bad in [f64::NAN, -0.1, 1.1, f64::INFINITY] {
            assert!(normal_quantile(bad).is_nan(), "{bad}");
        }
        // The smallest subnormal probability still inverts without underflow.
        let x = normal_quantile(f64::from_bits(1));
        assert!((-38.5..-38.4).contains(&x), "{x}");
    }
}

//! Small, exact statistics shared by the canary judge, anomaly detection and
//! the risk model: medians, MAD, midranks with tie groups, the normal tail.
//!
//! Everything here works on finite `f64`s; callers filter NaN out first.

/// Median of a slice (mean of the two middle values for even lengths); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    median_in_place(&mut values.to_vec())
}

/// Median that reorders `v` (selection, linear time); `None` when empty.
pub fn median_in_place(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (_, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    // the lower middle is the largest value left of n/2
    let lower = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Median absolute deviation from `centre` (not scaled).
pub fn mad(values: &[f64], centre: f64) -> Option<f64> {
    let dev: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    median(&dev)
}

/// Factor that makes the MAD a consistent estimator of a normal standard deviation.
pub const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

pub use bearing_metrics::stats::{midranks, normal_sf};

/// Standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Linear-interpolated quantile (`q` in 0..=1) of sorted data; `None` when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0], 3.0), Some(1.0));
    }

    #[test]
    fn midranks_average_ties() {
        let (r, t) = midranks(&[10.0, 20.0, 10.0, 30.0, 20.0, 20.0]);
        assert_eq!(r, vec![1.5, 4.0, 1.5, 6.0, 4.0, 4.0]);
        assert_eq!(t, vec![2, 3]);
    }

    #[test]
    fn normal_tail_matches_known_values() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_sf(1.959_963_984_540_054) - 0.025).abs() < 1e-12);
        assert!((normal_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-15);
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&s, 1.0), Some(4.0));
    }
}

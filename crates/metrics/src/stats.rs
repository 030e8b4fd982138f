//! Small, dependency-free statistics used by the metrics: quantiles (the
//! same linear interpolation as DuckDB's `quantile_cont`), means, robust
//! spread (MAD) and Welch's t-test with a Cornish–Fisher critical value.

/// Quantile `q` in `[0, 1]` of `values` by linear interpolation between
/// closest ranks (type 7; DuckDB `quantile_cont`). Sorts `values` in place.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(quantile_sorted(values, q))
}

/// Like [`quantile`] on an already sorted, non-empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample variance (n - 1 denominator); `None` below two values.
pub fn variance(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    Some(values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (values.len() - 1) as f64)
}

/// Median and median absolute deviation.
pub fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    let mut v = values.to_vec();
    let med = quantile(&mut v, 0.5)?;
    let mut dev: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    let mad = quantile(&mut dev, 0.5)?;
    Some((med, mad))
}

/// Result of Welch's unequal-variance t-test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Welch {
    pub t: f64,
    pub df: f64,
    /// Two-sided 5% critical value of Student's t at `df`.
    pub critical: f64,
    /// `|t| > critical`.
    pub significant: bool,
}

/// Welch's t-test of `after` against `before`; needs two values on each side.
pub fn welch(before: &[f64], after: &[f64]) -> Option<Welch> {
    let (n1, n2) = (before.len() as f64, after.len() as f64);
    let (m1, m2) = (mean(before)?, mean(after)?);
    let (v1, v2) = (variance(before)?, variance(after)?);
    let se2 = v1 / n1 + v2 / n2;
    if se2 <= 0.0 {
        // No noise at all: any difference stands out, none does not.
        let differs = (m2 - m1).abs() > f64::EPSILON * m1.abs().max(1.0);
        let t = if differs {
            f64::INFINITY.copysign(m2 - m1)
        } else {
            0.0
        };
        return Some(Welch {
            t,
            df: n1 + n2 - 2.0,
            critical: t_critical_05(n1 + n2 - 2.0),
            significant: differs,
        });
    }
    let t = (m2 - m1) / se2.sqrt();
    let df = se2 * se2
        / ((v1 / n1).powi(2) / (n1 - 1.0) + (v2 / n2).powi(2) / (n2 - 1.0)).max(f64::MIN_POSITIVE);
    let critical = t_critical_05(df);
    Some(Welch {
        t,
        df,
        critical,
        significant: t.abs() > critical,
    })
}

/// Two-sided 5% critical value of Student's t with `df` degrees of freedom,
/// by the Cornish–Fisher expansion around z = 1.959964 (within 3% of the
/// exact value at df = 2, within 0.1% from df = 5).
pub fn t_critical_05(df: f64) -> f64 {
    let z: f64 = 1.959_964;
    let df = df.max(1.0);
    let z3 = z.powi(3);
    let z5 = z.powi(5);
    let z7 = z.powi(7);
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df * df * df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_duckdb() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), Some(2.5));
        assert!((quantile(&mut v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&mut [7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn t_critical_matches_tables() {
        // Student's t, two-sided 5%: df 5 → 2.571, df 10 → 2.228, df 30 → 2.042.
        assert!((t_critical_05(5.0) - 2.571).abs() < 0.01);
        assert!((t_critical_05(10.0) - 2.228).abs() < 0.005);
        assert!((t_critical_05(30.0) - 2.042).abs() < 0.002);
    }

    #[test]
    fn welch_flags_a_clear_shift_only() {
        let before = [10.0, 11.0, 9.0, 10.5, 9.5, 10.0];
        let after = [14.0, 15.0, 13.5, 14.5, 15.5, 14.0];
        assert!(welch(&before, &after).unwrap().significant);
        let same = [10.2, 9.8, 10.1, 9.9, 10.0, 10.3];
        assert!(!welch(&before, &same).unwrap().significant);
        assert!(welch(&[1.0], &after).is_none());
    }
}

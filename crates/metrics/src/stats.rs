//! Small statistics used by the metrics: quantiles (the
//! same linear interpolation as DuckDB's `quantile_cont`), means, robust
//! spread (MAD) and Welch's t-test with a Cornish–Fisher critical value, and the Mann-Whitney U
//! test the canary judge and the business release comparison share.

use serde::{Deserialize, Serialize};

/// Quantile `q` in `[0, 1]` of `values` by linear interpolation between
/// closest ranks (type 7; DuckDB `quantile_cont`). Sorts `values` in place.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(quantile_sorted(values, q))
}

/// The same value as [`quantile`] by selection instead of a full sort:
/// linear time; `values` is reordered.
pub fn select_quantile(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, x, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let x = *x;
    let frac = pos - lo as f64;
    if frac == 0.0 {
        return Some(x);
    }
    let y = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(x);
    Some(x + (y - x) * frac)
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

// Mann-Whitney U, shared by the canary judge (bearing-adapt) and the
// business release comparison, so both give one answer on one input.

/// Midranks (1-based, ties get the mean of their positions) of `values`, and
/// the sizes of the tie groups (only groups larger than one).
pub fn midranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // positions i..j (0-based) share rank mean(i+1..=j)
        let rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        if j - i > 1 {
            ties.push(j - i);
        }
        i = j;
    }
    (ranks, ties)
}

/// Upper tail of the standard normal, P(Z > z), accurate to a few ulps
/// (uses the C library's `erfc` algorithm through `libm`).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// How to compute the p-value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Exact when both samples are small (≤ 8 each) and there are no ties, else asymptotic.
    #[default]
    Auto,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
    /// Exact null distribution (falls back to asymptotic when there are ties).
    Exact,
}

/// Result of a two-sided Mann-Whitney U test of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of `x` (SciPy's `statistic`): pairs with x > y, ties counting one half.
    pub u1: f64,
    /// U statistic of `y` (`n1 * n2 - u1`).
    pub u2: f64,
    /// The normal deviate, when the asymptotic method was used.
    pub z: Option<f64>,
    pub p_value: f64,
    /// `true` when the exact distribution was used.
    pub exact: bool,
}

/// Two-sided Mann-Whitney U test. `None` when either sample is empty.
///
/// With `method = Asymptotic` and `continuity = true` this computes what
/// `scipy.stats.mannwhitneyu(x, y, alternative='two-sided',
/// method='asymptotic', use_continuity=True)` computes. When every value is
/// tied the variance is zero and the p-value is 1 (SciPy returns NaN).
pub fn mann_whitney_u(
    x: &[f64],
    y: &[f64],
    method: Method,
    continuity: bool,
) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, ties) = midranks(&all);
    let r1: f64 = ranks[..n1].iter().sum();
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let u = u1.max(u2);
    let use_exact = match method {
        Method::Asymptotic => false,
        Method::Exact => ties.is_empty(),
        Method::Auto => ties.is_empty() && n1 <= 8 && n2 <= 8,
    };
    if use_exact {
        let p = (2.0 * exact_sf(u, n1, n2)).clamp(0.0, 1.0);
        return Some(MannWhitney {
            u1,
            u2,
            z: None,
            p_value: p,
            exact: true,
        });
    }
    let n = n1f + n2f;
    let tie_term: f64 = ties
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let mut num = u - n1f * n2f / 2.0;
    if continuity {
        num -= 0.5;
    }
    if s <= 0.0 || !s.is_finite() {
        return Some(MannWhitney {
            u1,
            u2,
            z: None,
            p_value: 1.0,
            exact: false,
        });
    }
    let z = num / s;
    let p = (2.0 * normal_sf(z)).clamp(0.0, 1.0);
    Some(MannWhitney {
        u1,
        u2,
        z: Some(z),
        p_value: p,
        exact: false,
    })
}

/// P(U >= u) under the null for samples of sizes `n1`, `n2` without ties.
fn exact_sf(u: f64, n1: usize, n2: usize) -> f64 {
    // counts[k] = number of arrangements with U = k, built one x-value at a time:
    // c(i, j, k) = c(i-1, j, k-j) + c(i, j-1, k).
    let max_u = n1 * n2;
    // table[j][k] for the current i
    let mut prev: Vec<Vec<f64>> = (0..=n2).map(|_| vec![1.0]).collect(); // i = 0: only U = 0
    for i in 1..=n1 {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n2 + 1);
        cur.push(vec![1.0]); // j = 0: U = 0
        for j in 1..=n2 {
            let len = i * j + 1;
            let mut row = vec![0.0; len];
            // x_i larger than all j y's: adds j
            for (k, c) in prev[j].iter().enumerate() {
                row[k + j] += c;
            }
            for (k, c) in cur[j - 1].iter().enumerate() {
                row[k] += c;
            }
            cur.push(row);
        }
        prev = cur;
    }
    let counts = &prev[n2];
    let total: f64 = counts.iter().sum();
    let from = u.ceil().max(0.0) as usize;
    if from > max_u {
        return 0.0;
    }
    counts[from..].iter().sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_distribution_sums_to_one() {
        assert!((exact_sf(0.0, 5, 7) - 1.0).abs() < 1e-12);
        assert_eq!(exact_sf(36.0, 5, 7), 0.0);
        // symmetric: P(U >= 18) + P(U <= 17) = 1 and P(U<=17) = P(U >= 18) by symmetry (mean 17.5)
        assert!((exact_sf(18.0, 5, 7) - 0.5).abs() < 1e-12);
    }

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

//! Anomaly detection on daily metric series (cost per service, lead time,
//! deployment count, failure rate, business KPIs).
//!
//! Method (per day, using only the days before it, so a day is judged the way
//! a daily job would have judged it):
//!
//! 0. Scale: values are first put on a scale where noise is roughly constant:
//!    log for strictly positive series (cost, lead time: noise grows with the
//!    level, weekly patterns are multiplicative), Anscombe's square root
//!    `2√(x + 3/8)` for counts (deployments per day: Poisson noise), as-is
//!    `asin(√x)` for shares in 0..=1 (failure rate: binomial noise), as-is
//!    otherwise. [`Transform::Auto`] picks log or none; [`Params::for_unit`]
//!    picks by the metric's unit.
//! 1. History: the previous `window_days` days (default 56 = eight weeks);
//!    at least `min_history` (default 21) of them must have a value.
//! 2. Weekly seasonality: per-weekday medians of the history, centred on their
//!    median, give a weekday effect `s[w]` (zero when a weekday has fewer than
//!    two points). The pattern is kept only when its largest effect exceeds
//!    three times the noise of a weekday median; otherwise it would only add
//!    noise to every expectation.
//! 3. Trend and level: a Theil-Sen slope (median of pairwise slopes) of the
//!    deseasonalised values `x - s[w]`; the level is the median of the last
//!    `level_days` (default 28) of them projected along the slope to the day.
//! 4. Expected value `level + s[w(day)]`. Residual noise σ is 1.4826 × MAD of
//!    the history's residuals (anomalies already in the history barely move
//!    it), corrected for the fitted parameters. The scale used for judging is
//!    the predictive one, `σ · √(1 + π/2/n_level + π/2/n_weekday + trend term)`,
//!    because the expectation is itself built from medians of few points; it
//!    is never below the data's resolution (the smallest gap between distinct
//!    values), so discrete series cannot collapse it to zero.
//! 5. A day is anomalous when it is more than `threshold` (default 3.5) such
//!    scales from the expectation — widened like a Student-t quantile with
//!    0.37·n degrees of freedom, because σ is itself estimated from n days
//!    (3.5 becomes ~4.2 with eight weeks of history, ~5 with three) — the change is at least
//!    `min_relative_change` (default 5%) of the expectation and at least
//!    `threshold × max(min_scale, min_relative_scale × |expected|)` in the
//!    series' own unit. Expectation and range are reported in the series' unit
//!    (a log-scale range is asymmetric).
//!
//! Each anomaly carries the date, observed and expected values, the expected
//! range, its size in robust sigmas and relative to the expectation, its
//! direction (and whether that direction is bad when the caller says which
//! way is better), and the ids of the records behind the day.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::stats::{MAD_TO_SIGMA, mad, median, median_in_place};

/// One day of a series with the records it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub date: NaiveDate,
    pub value: f64,
    /// Ids of the events behind the value (cost rows, deployments, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
}

impl Point {
    pub fn new(date: NaiveDate, value: f64) -> Self {
        Point {
            date,
            value,
            records: Vec::new(),
        }
    }
}

/// The scale the detector works on (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Log when every value is positive, else none.
    #[default]
    Auto,
    None,
    Log,
    /// Anscombe's square root, for counts.
    Sqrt,
    /// `asin(√x)`, for shares in 0..=1 (failure rate, conversion).
    Arcsine,
}

impl Transform {
    fn resolve(self, values: &[f64]) -> Transform {
        match self {
            Transform::Auto if values.iter().all(|v| *v > 0.0) => Transform::Log,
            Transform::Auto => Transform::None,
            Transform::Log if values.iter().any(|v| *v <= 0.0) => Transform::None,
            Transform::Sqrt if values.iter().any(|v| *v < -0.375) => Transform::None,
            Transform::Arcsine if values.iter().any(|v| !(0.0..=1.0).contains(v)) => {
                Transform::None
            }
            t => t,
        }
    }
    fn forward(self, v: f64) -> f64 {
        match self {
            Transform::Log => v.ln(),
            Transform::Sqrt => 2.0 * (v + 0.375).sqrt(),
            Transform::Arcsine => v.clamp(0.0, 1.0).sqrt().asin(),
            Transform::Auto | Transform::None => v,
        }
    }
    fn back(self, v: f64) -> f64 {
        match self {
            Transform::Log => v.exp(),
            Transform::Sqrt => ((v / 2.0).powi(2) - 0.375).max(0.0),
            Transform::Arcsine => v.clamp(0.0, std::f64::consts::FRAC_PI_2).sin().powi(2),
            Transform::Auto | Transform::None => v,
        }
    }
}

/// Detector settings; [`Params::default`] is the measured default sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    pub transform: Transform,
    /// Days of history used for each day's baseline.
    pub window_days: u32,
    /// Days of history the level is taken from (the most recent part of the window).
    pub level_days: u32,
    /// Days with a value needed before a day is judged.
    pub min_history: usize,
    /// Scales (robust, predictive sigmas) beyond which a day is anomalous.
    pub threshold: f64,
    /// Smallest noise scale in the series' unit (the change must exceed `threshold` times it).
    pub min_scale: f64,
    /// Smallest noise scale as a share of the expected value.
    pub min_relative_scale: f64,
    /// Smallest |observed − expected| / |expected| reported.
    pub min_relative_change: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            transform: Transform::Auto,
            window_days: 56,
            level_days: 28,
            min_history: 21,
            threshold: 3.5,
            min_scale: 0.0,
            min_relative_scale: 0.01,
            min_relative_change: 0.05,
        }
    }
}

impl Params {
    /// Defaults for small counts (deployments or incidents per day).
    pub fn counts() -> Self {
        Params {
            transform: Transform::Sqrt,
            ..Params::default()
        }
    }

    /// Defaults for shares in 0..=1 (failure rate, conversion rate).
    pub fn rates() -> Self {
        Params {
            transform: Transform::Arcsine,
            ..Params::default()
        }
    }

    /// Defaults for a metric of the given unit (from the metric catalog):
    /// counts and rates per period use the square root, percentages the
    /// arcsine, money and durations the log.
    pub fn for_unit(unit: bearing_intent::Unit) -> Self {
        use bearing_intent::Unit;
        match unit {
            Unit::Count | Unit::Rate => Params::counts(),
            Unit::Percent => Params::rates(),
            Unit::Money | Unit::Duration | Unit::Ratio => Params::default(),
        }
    }
}

/// Which way the series moved on an anomalous day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

/// One anomalous day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub date: NaiveDate,
    pub observed: f64,
    pub expected: f64,
    /// Values strictly inside this range would not have been flagged (`expected ±
    /// widened threshold × scale` on the detector's scale, in the series' unit).
    pub expected_low: f64,
    pub expected_high: f64,
    /// Size in robust predictive sigmas on the detector's scale, signed.
    pub sigmas: f64,
    /// (observed − expected) / |expected|, signed; `None` when expected is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    pub direction: Direction,
    /// Whether the direction is the bad one, when the caller said which way is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad: Option<bool>,
    pub records: Vec<String>,
}

/// The baseline for one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub expected: f64,
    pub scale: f64,
}

/// Fits the baseline for `date` from `history` (points strictly before
/// `date`), on whatever scale the points are given in (no transform, no
/// unit floors: [`detect`] applies those).
pub fn baseline(history: &[&Point], date: NaiveDate, params: &Params) -> Option<Baseline> {
    if history.len() < params.min_history.max(3) {
        return None;
    }
    let wd = |d: NaiveDate| d.weekday().num_days_from_monday() as usize;
    let t = |d: NaiveDate| (d - date).num_days() as f64; // negative: days before `date`
    let mut by_day: [Vec<f64>; 7] = Default::default();
    for p in history {
        by_day[wd(p.date)].push(p.value);
    }
    let day_medians: Vec<Option<f64>> = by_day
        .iter()
        .map(|v| if v.len() >= 2 { median(v) } else { None })
        .collect();
    let present: Vec<f64> = day_medians.iter().flatten().copied().collect();
    let centre = median(&present)?;
    let seasonal: Vec<f64> = day_medians
        .iter()
        .map(|m| m.map_or(0.0, |m| m - centre))
        .collect();
    let min_per_day = by_day
        .iter()
        .map(Vec::len)
        .filter(|n| *n >= 2)
        .min()
        .unwrap_or(2);

    let seasonal_fit = fit(history, &seasonal, &t, params)?;
    // Keep the weekly pattern only when it stands out of the noise: a weekday
    // median of n points wobbles by about 1.25 σ / √n on its own.
    let noise_of_median = 1.2533 * seasonal_fit.sigma / (min_per_day as f64).sqrt();
    let strongest = seasonal.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let (f, effect, per_day) = if strongest > 3.0 * noise_of_median {
        (seasonal_fit, seasonal[wd(date)], Some(min_per_day))
    } else {
        (fit(history, &[0.0; 7], &t, params)?, 0.0, None)
    };
    // Predictive scale: residual noise plus the uncertainty of the medians
    // the expectation is built from (var of a median ≈ π/2 · σ² / n).
    let half_pi = std::f64::consts::FRAC_PI_2;
    let mut var = 1.0 + half_pi / f.level_points.max(1) as f64 + f.slope_var_factor;
    if let Some(n) = per_day {
        var += half_pi / n as f64;
    }
    let expected = f.level + effect;
    // the data's resolution: smallest gap between distinct values
    let mut distinct: Vec<f64> = history.iter().map(|p| p.value).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let quantum = distinct
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let quantum = if quantum.is_finite() { quantum } else { 0.0 };
    let scale = (f.sigma * var.sqrt()).max(quantum).max(f64::MIN_POSITIVE);
    Some(Baseline { expected, scale })
}

struct Fit {
    /// Deseasonalised level projected to the judged day.
    level: f64,
    level_points: usize,
    /// Robust residual standard deviation.
    sigma: f64,
    /// Extra relative variance from extrapolating the trend.
    slope_var_factor: f64,
}

/// Level, trend (Theil-Sen slope) and residual scale of deseasonalised history.
fn fit(
    history: &[&Point],
    seasonal: &[f64],
    t: &dyn Fn(NaiveDate) -> f64,
    params: &Params,
) -> Option<Fit> {
    let wd = |d: NaiveDate| d.weekday().num_days_from_monday() as usize;
    let pts: Vec<(f64, f64)> = history
        .iter()
        .map(|p| (t(p.date), p.value - seasonal[wd(p.date)]))
        .collect();
    let n = pts.len();
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dt = pts[j].0 - pts[i].0;
            if dt != 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dt);
            }
        }
    }
    let slope = median_in_place(&mut slopes).unwrap_or(0.0);
    let level_from = -f64::from(params.level_days.max(1));
    let mut recent: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 >= level_from).collect();
    if recent.len() < 7 {
        recent = pts.clone();
    }
    // project each recent point to day 0 along the trend
    let projected: Vec<f64> = recent.iter().map(|(ti, di)| di - slope * ti).collect();
    let level = median(&projected)?;
    let residuals: Vec<f64> = pts
        .iter()
        .map(|(ti, di)| di - (level + slope * ti))
        .collect();
    let centre = median(&residuals)?;
    // MAD underestimates σ when parameters were fitted from the same points
    let fitted = 9.0;
    let dof = if n as f64 > fitted + 1.0 {
        (n as f64 / (n as f64 - fitted)).sqrt()
    } else {
        1.5
    };
    let sigma = mad(&residuals, centre)? * MAD_TO_SIGMA * dof;
    // var(slope) ≈ 12 σ² / (n T²); the level extrapolates it over the mean distance
    let span = pts.iter().map(|p| -p.0).fold(0.0f64, f64::max).max(1.0);
    let mean_dist = recent.iter().map(|p| -p.0).sum::<f64>() / recent.len() as f64;
    let slope_var_factor = 12.0 * mean_dist * mean_dist / (n as f64 * span * span);
    Some(Fit {
        level,
        level_points: recent.len(),
        sigma,
        slope_var_factor,
    })
}

/// Finds the anomalous days of a daily series. Points need not be sorted or
/// contiguous; non-finite values are ignored. `lower_is_better` (from the
/// metric catalog) sets [`Anomaly::bad`].
pub fn detect(series: &[Point], params: &Params, lower_is_better: Option<bool>) -> Vec<Anomaly> {
    let mut points: Vec<&Point> = series.iter().filter(|p| p.value.is_finite()).collect();
    points.sort_by_key(|p| p.date);
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let tf = params.transform.resolve(&values);
    let scaled: Vec<Point> = points
        .iter()
        .map(|p| Point::new(p.date, tf.forward(p.value)))
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..points.len() {
        let day = points[i].date;
        let from = day
            .checked_sub_signed(chrono::Duration::days(i64::from(params.window_days.max(1))))
            .unwrap_or(NaiveDate::MIN);
        while start < i && scaled[start].date < from {
            start += 1;
        }
        let history: Vec<&Point> = scaled[start..i].iter().filter(|p| p.date < day).collect();
        let Some(b) = baseline(&history, day, params) else {
            continue;
        };
        let p = points[i];
        // on the square-root scale Poisson noise is 1: counts never vary less
        let b = if tf == Transform::Sqrt {
            Baseline {
                scale: b.scale.max(1.0),
                ..b
            }
        } else {
            b
        };
        // the scale is itself estimated from few points: widen the threshold
        // like a Student-t quantile (a MAD has ~37% of the efficiency of a
        // standard deviation, so ~0.37·n degrees of freedom)
        let dof = (0.37 * history.len() as f64).max(3.0);
        let limit = params.threshold * t_widening(params.threshold, dof);
        let sigmas = (scaled[i].value - b.expected) / b.scale;
        let expected = tf.back(b.expected);
        let diff = p.value - expected;
        let relative = (expected != 0.0).then(|| diff / expected.abs());
        let big_enough = relative.is_none_or(|r| r.abs() >= params.min_relative_change);
        let floor = params
            .min_scale
            .max(params.min_relative_scale * expected.abs());
        if sigmas.abs() > limit && big_enough && diff.abs() > params.threshold * floor {
            let direction = if diff > 0.0 {
                Direction::Up
            } else {
                Direction::Down
            };
            let low = tf.back(b.expected - limit * b.scale);
            let high = tf.back(b.expected + limit * b.scale);
            out.push(Anomaly {
                date: p.date,
                observed: p.value,
                expected,
                expected_low: low.min(expected - params.threshold * floor),
                expected_high: high.max(expected + params.threshold * floor),
                sigmas,
                relative,
                direction,
                bad: lower_is_better.map(|lower| lower == (direction == Direction::Up)),
                records: p.records.clone(),
            });
        }
    }
    out
}

/// `t_ν(z) / z`: how much wider a Student-t quantile with `dof` degrees of
/// freedom is than the normal quantile `z` (Cornish-Fisher expansion).
fn t_widening(z: f64, dof: f64) -> f64 {
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    let t = z
        + (z3 + z) / (4.0 * dof)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * dof * dof)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * dof.powi(3));
    if z > 0.0 { t / z } else { 1.0 }
}

/// Fills the days between the first and last point that have no value with
/// `fill` (e.g. zero cost or zero deployments on a day nothing happened).
pub fn fill_gaps(series: &[Point], fill: f64) -> Vec<Point> {
    let mut sorted: Vec<Point> = series.to_vec();
    sorted.sort_by_key(|p| p.date);
    let mut out: Vec<Point> = Vec::with_capacity(sorted.len());
    for p in sorted {
        if let Some(last_date) = out.last().map(|l| l.date) {
            if last_date == p.date {
                // merge duplicates of a day
                if let Some(l) = out.last_mut() {
                    l.value += p.value;
                    l.records.extend(p.records);
                }
                continue;
            }
            let mut d = last_date.succ_opt();
            while let Some(day) = d {
                if day >= p.date {
                    break;
                }
                out.push(Point::new(day, fill));
                d = day.succ_opt();
            }
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::days(i)
    }

    /// Weekly pattern with weekend dips and small deterministic noise.
    fn weekly(n: i64) -> Vec<Point> {
        (0..n)
            .map(|i| {
                let weekend = i % 7 >= 5;
                let noise = ((i * 37 % 11) as f64 - 5.0) * 0.6;
                let v = if weekend { 60.0 } else { 100.0 } + noise;
                Point {
                    date: day(i),
                    value: v,
                    records: vec![format!("cost:{i}")],
                }
            })
            .collect()
    }

    #[test]
    fn weekend_dips_are_not_anomalies() {
        let s = weekly(90);
        assert!(detect(&s, &Params::default(), Some(true)).is_empty());
    }

    #[test]
    fn spike_is_found_with_size_range_and_records() {
        let mut s = weekly(90);
        s[70].value = 180.0; // a weekday
        s[76].value = 20.0; // a Sunday dip below the weekend level
        let found = detect(&s, &Params::default(), Some(true));
        assert_eq!(found.len(), 2, "{found:?}");
        let a = &found[0];
        assert_eq!(a.date, day(70));
        assert_eq!(a.direction, Direction::Up);
        assert_eq!(a.bad, Some(true));
        assert!((a.expected - 100.0).abs() < 3.0, "{a:?}");
        assert!(a.expected_low < 100.0 && a.expected_high > 100.0 && a.expected_high < 180.0);
        assert!(a.sigmas > 3.5);
        assert!((a.relative.unwrap() - 0.8).abs() < 0.05);
        assert_eq!(a.records, vec!["cost:70".to_string()]);
        let b = &found[1];
        assert_eq!(b.date, day(76));
        assert_eq!(b.direction, Direction::Down);
        assert!((b.expected - 60.0).abs() < 3.0, "{b:?}");
    }

    #[test]
    fn too_little_history_is_not_judged() {
        let mut s = weekly(10);
        s[9].value = 1000.0;
        assert!(detect(&s, &Params::default(), None).is_empty());
    }

    #[test]
    fn flat_count_series_needs_a_real_jump() {
        let mut s: Vec<Point> = (0..60).map(|i| Point::new(day(i), 2.0)).collect();
        s[50].value = 3.0;
        assert!(detect(&s, &Params::counts(), None).is_empty());
        s[55].value = 16.0;
        let found = detect(&s, &Params::counts(), None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].date, day(55));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_ranges_contain_expectations(
            values in proptest::collection::vec(proptest::num::f64::ANY, 0..90),
            kind in 0usize..4,
        ) {
            let s: Vec<Point> = values
                .iter()
                .enumerate()
                .map(|(i, v)| Point::new(day(i as i64), *v))
                .collect();
            let params = [Params::default(), Params::counts(), Params::rates(), Params {
                transform: Transform::None,
                ..Params::default()
            }][kind];
            for a in detect(&s, &params, None) {
                proptest::prop_assert!(a.expected_low <= a.expected_high);
                proptest::prop_assert!(a.observed <= a.expected_low || a.observed >= a.expected_high);
            }
        }
    }

    #[test]
    fn a_history_window_longer_than_the_calendar_does_not_panic() {
        let s: Vec<Point> = (0..40)
            .map(|i| Point::new(day(i), 1.0 + (i % 3) as f64))
            .collect();
        let params = Params {
            window_days: u32::MAX,
            ..Params::default()
        };
        let all_history = detect(&s, &params, None);
        let eight_weeks = detect(&s, &Params::default(), None);
        // 40 days of data: both windows hold all of it, so they agree.
        assert_eq!(all_history, eight_weeks);
    }

    #[test]
    fn gaps_are_filled_and_duplicates_merged() {
        let s = vec![
            Point::new(day(0), 1.0),
            Point::new(day(3), 2.0),
            Point::new(day(3), 5.0),
        ];
        let f = fill_gaps(&s, 0.0);
        assert_eq!(f.len(), 4);
        assert_eq!(f[1].value, 0.0);
        assert_eq!(f[3].value, 7.0);
    }
}

//! The canary judge: compares per-metric samples of a canary against its
//! baseline and says promote, hold or roll back, with reasons.
//!
//! Each metric is tested with a two-sided Mann-Whitney U test (midranks, tie
//! correction, continuity correction; exact null distribution for small
//! samples without ties), and sized with Cliff's delta (the rank-biserial
//! correlation, `P(canary > baseline) - P(canary < baseline)`) and the
//! Hodges-Lehmann shift (median of all canary − baseline differences). A
//! metric fails when the difference is significant, in the direction the
//! config calls bad, and large enough to matter. The score is the weighted
//! share of metrics that pass; a failing critical metric rolls back whatever
//! the score. See `docs/adapt.md` for formats and defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stats::median;

/// Errors reading samples or the judge's config.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    #[error(
        "cannot parse `{name}` as JSON samples: {message}; expected `{{\"metric\": [numbers]}}` or `[{{\"metric\": …, \"value\": …}}]`"
    )]
    Json { name: String, message: String },
    #[error(
        "cannot parse `{name}` as CSV samples: {message}; expected a `metric,value` header or one column per metric"
    )]
    Csv { name: String, message: String },
    #[error("`{name}`: value `{value}` of metric `{metric}` is not a finite number")]
    NotANumber {
        name: String,
        metric: String,
        value: String,
    },
    #[error("cannot parse canary config `{name}`: {message}")]
    Config { name: String, message: String },
}

pub use bearing_metrics::stats::{MannWhitney, Method, mann_whitney_u};

/// Cliff's delta of `canary` against `baseline`: P(c > b) − P(c < b), in −1..=1.
pub fn cliffs_delta(canary: &[f64], baseline: &[f64]) -> Option<f64> {
    let mw = mann_whitney_u(canary, baseline, Method::Asymptotic, false)?;
    let pairs = canary.len() as f64 * baseline.len() as f64;
    Some(2.0 * mw.u1 / pairs - 1.0)
}

/// Hodges-Lehmann shift: median of all `canary − baseline` differences. Above
/// a million pairs both samples are thinned to evenly spaced order statistics.
pub fn hodges_lehmann(canary: &[f64], baseline: &[f64]) -> Option<f64> {
    const MAX_PAIRS: usize = 1_000_000;
    let thin = |v: &[f64], keep: usize| -> Vec<f64> {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        if s.len() <= keep {
            return s;
        }
        (0..keep)
            .map(|i| s[i * (s.len() - 1) / (keep - 1).max(1)])
            .collect()
    };
    let (mut c, mut b) = (canary.to_vec(), baseline.to_vec());
    if c.len() * b.len() > MAX_PAIRS {
        let keep = (MAX_PAIRS as f64).sqrt() as usize;
        c = thin(&c, keep);
        b = thin(&b, keep);
    }
    let diffs: Vec<f64> = c
        .iter()
        .flat_map(|ci| b.iter().map(move |bi| ci - bi))
        .collect();
    median(&diffs)
}

/// Which direction of change is bad for a metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bad {
    /// Higher canary values are bad (latency, errors, CPU).
    #[default]
    Increase,
    /// Lower canary values are bad (throughput, success rate).
    Decrease,
    /// Any significant change is bad.
    Either,
}

/// Judge settings for one metric; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricConfig {
    /// Weight in the score (default 1).
    pub weight: f64,
    pub bad: Bad,
    /// A failing critical metric rolls the canary back whatever the score.
    pub critical: bool,
    /// Significance level of the two-sided test (default 0.05).
    pub alpha: f64,
    /// Smallest |Cliff's delta| that counts as a real effect (default 0.2;
    /// ~0.15 small, ~0.33 medium, ~0.47 large).
    pub min_effect: f64,
    /// Optional: smallest |Hodges-Lehmann shift| / |baseline median| that counts (e.g. 0.05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_relative_shift: Option<f64>,
    /// Fewer samples than this on either side means no verdict for the metric (default 5).
    pub min_samples: usize,
}

impl Default for MetricConfig {
    fn default() -> Self {
        MetricConfig {
            weight: 1.0,
            bad: Bad::Increase,
            critical: false,
            alpha: 0.05,
            min_effect: 0.2,
            min_relative_shift: None,
            min_samples: 5,
        }
    }
}

/// The judge's configuration (`--config`, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanaryConfig {
    /// Score (0-100) at or above which the canary is promoted (default 95).
    pub pass_score: f64,
    /// Score below which it is rolled back (default 75); in between: hold.
    pub marginal_score: f64,
    pub method: Method,
    /// Settings for metrics not listed in `metrics`.
    #[serde(rename = "default")]
    pub default_metric: MetricConfig,
    /// Per-metric settings. Listed metrics missing from the samples count as no data.
    pub metrics: BTreeMap<String, MetricConfig>,
}

impl Default for CanaryConfig {
    fn default() -> Self {
        CanaryConfig {
            pass_score: 95.0,
            marginal_score: 75.0,
            method: Method::Auto,
            default_metric: MetricConfig::default(),
            metrics: BTreeMap::new(),
        }
    }
}

impl CanaryConfig {
    /// Parses a JSON config; `name` is used in errors.
    pub fn from_json(name: &str, text: &str) -> Result<Self, CanaryError> {
        serde_json::from_str(text).map_err(|e| CanaryError::Config {
            name: name.to_string(),
            message: e.to_string(),
        })
    }
}

/// Per-metric samples: metric name → values.
pub type Samples = BTreeMap<String, Vec<f64>>;

/// Reads samples from JSON or CSV text (detected from the first character).
///
/// JSON: `{"latency_ms": [12.1, 13.4], "errors": [0, 1]}`, the same wrapped as
/// `{"metrics": {...}}`, or a list of `{"metric": "latency_ms", "value": 12.1}`.
/// CSV: a header with `metric` and `value` columns (one sample per row), or
/// one column per metric (empty cells skipped).
pub fn parse_samples(name: &str, text: &str) -> Result<Samples, CanaryError> {
    let first = text.trim_start().chars().next();
    match first {
        Some('{') | Some('[') => parse_json_samples(name, text),
        _ => parse_csv_samples(name, text),
    }
}

fn num(name: &str, metric: &str, v: &serde_json::Value) -> Result<f64, CanaryError> {
    let x = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    x.filter(|x| x.is_finite())
        .ok_or_else(|| CanaryError::NotANumber {
            name: name.to_string(),
            metric: metric.to_string(),
            value: v.to_string(),
        })
}

fn parse_json_samples(name: &str, text: &str) -> Result<Samples, CanaryError> {
    let jerr = |message: String| CanaryError::Json {
        name: name.to_string(),
        message,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| jerr(e.to_string()))?;
    let mut out = Samples::new();
    match value {
        serde_json::Value::Object(mut obj) => {
            if let Some(serde_json::Value::Object(inner)) = obj.remove("metrics") {
                obj = inner;
            }
            for (metric, v) in obj {
                let serde_json::Value::Array(items) = v else {
                    return Err(jerr(format!("metric `{metric}` is not a list of numbers")));
                };
                let vals = items
                    .iter()
                    .map(|x| num(name, &metric, x))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert(metric, vals);
            }
        }
        serde_json::Value::Array(rows) => {
            for (i, row) in rows.iter().enumerate() {
                let metric = row
                    .get("metric")
                    .and_then(|m| m.as_str())
                    .ok_or_else(|| jerr(format!("item {i} has no string `metric`")))?;
                let v = row
                    .get("value")
                    .ok_or_else(|| jerr(format!("item {i} has no `value`")))?;
                let x = num(name, metric, v)?;
                out.entry(metric.to_string()).or_default().push(x);
            }
        }
        _ => return Err(jerr("the document is neither an object nor a list".into())),
    }
    Ok(out)
}

fn parse_csv_samples(name: &str, text: &str) -> Result<Samples, CanaryError> {
    let cerr = |message: String| CanaryError::Csv {
        name: name.to_string(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| cerr(e.to_string()))?.clone();
    if headers.is_empty() {
        return Err(cerr("no header row".into()));
    }
    let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
    let mut out = Samples::new();
    let parse = |metric: &str, cell: &str| -> Result<f64, CanaryError> {
        cell.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| CanaryError::NotANumber {
                name: name.to_string(),
                metric: metric.to_string(),
                value: cell.to_string(),
            })
    };
    if let (Some(m), Some(v)) = (col("metric"), col("value")) {
        for rec in rdr.records() {
            let rec = rec.map_err(|e| cerr(e.to_string()))?;
            let metric = rec.get(m).unwrap_or_default();
            let cell = rec.get(v).unwrap_or_default();
            if metric.is_empty() {
                return Err(cerr(format!(
                    "line {}: empty metric name",
                    rec.position().map_or(0, |p| p.line())
                )));
            }
            let x = parse(metric, cell)?;
            out.entry(metric.to_string()).or_default().push(x);
        }
    } else {
        for h in &headers {
            out.insert(h.to_string(), Vec::new());
        }
        for rec in rdr.records() {
            let rec = rec.map_err(|e| cerr(e.to_string()))?;
            for (h, cell) in headers.iter().zip(rec.iter()) {
                if cell.is_empty() {
                    continue;
                }
                let x = parse(h, cell)?;
                out.entry(h.to_string()).or_default().push(x);
            }
        }
    }
    Ok(out)
}

/// What the judge concluded about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricStatus {
    Pass,
    Fail,
    /// Too few samples to judge; not counted in the score.
    NoData,
}

/// One metric's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricJudgement {
    pub metric: String,
    pub status: MetricStatus,
    pub critical: bool,
    pub weight: f64,
    pub baseline_n: usize,
    pub canary_n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_median: Option<f64>,
    /// U of the canary sample against the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cliffs_delta: Option<f64>,
    /// Hodges-Lehmann shift, canary − baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift: Option<f64>,
    pub reason: String,
}

/// The judge's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Promote,
    Hold,
    Rollback,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Hold => "hold",
            Verdict::Rollback => "rollback",
        }
    }
}

/// The whole judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Weighted share of judged metrics that pass, 0-100; `None` when nothing could be judged.
    pub score: Option<f64>,
    pub pass_score: f64,
    pub marginal_score: f64,
    pub reasons: Vec<String>,
    pub metrics: Vec<MetricJudgement>,
}

fn judge_metric(
    metric: &str,
    cfg: &MetricConfig,
    method: Method,
    base: &[f64],
    can: &[f64],
) -> MetricJudgement {
    let mut j = MetricJudgement {
        metric: metric.to_string(),
        status: MetricStatus::NoData,
        critical: cfg.critical,
        weight: cfg.weight,
        baseline_n: base.len(),
        canary_n: can.len(),
        baseline_median: median(base),
        canary_median: median(can),
        u: None,
        p_value: None,
        cliffs_delta: None,
        shift: None,
        reason: String::new(),
    };
    let min = cfg.min_samples.max(1);
    if base.len() < min || can.len() < min {
        j.reason = format!(
            "too few samples (baseline {}, canary {}; need {} each)",
            base.len(),
            can.len(),
            min
        );
        return j;
    }
    let Some(mw) = mann_whitney_u(can, base, method, true) else {
        j.reason = "no samples".into();
        return j;
    };
    let pairs = can.len() as f64 * base.len() as f64;
    let delta = 2.0 * mw.u1 / pairs - 1.0;
    let shift = hodges_lehmann(can, base).unwrap_or(0.0);
    j.u = Some(mw.u1);
    j.p_value = Some(mw.p_value);
    j.cliffs_delta = Some(delta);
    j.shift = Some(shift);
    let direction = if delta > 0.0 {
        "higher"
    } else if delta < 0.0 {
        "lower"
    } else {
        "no different"
    };
    let bad_direction = match cfg.bad {
        Bad::Increase => delta > 0.0,
        Bad::Decrease => delta < 0.0,
        Bad::Either => delta != 0.0,
    };
    let significant = mw.p_value < cfg.alpha;
    let big = delta.abs() >= cfg.min_effect;
    let relative = j
        .baseline_median
        .filter(|m| *m != 0.0)
        .map(|m| shift.abs() / m.abs());
    let big_shift = match (cfg.min_relative_shift, relative) {
        (Some(min_rel), Some(rel)) => rel >= min_rel,
        (Some(_), None) => shift != 0.0,
        (None, _) => true,
    };
    let stats = format!(
        "p = {}, Cliff's delta = {delta:+.2}, shift = {shift:+.4}",
        fmt_p(mw.p_value)
    );
    if significant && bad_direction && big && big_shift {
        j.status = MetricStatus::Fail;
        j.reason = format!("canary is {direction} than baseline ({stats})");
    } else {
        j.status = MetricStatus::Pass;
        j.reason = if !significant {
            format!("no significant difference ({stats})")
        } else if !bad_direction {
            format!("canary is {direction}, which is not the bad direction ({stats})")
        } else {
            format!("canary is {direction} but the effect is below the threshold ({stats})")
        };
    }
    j
}

/// A p-value for people: three decimals, or scientific notation when tiny.
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// Judges a canary against its baseline.
pub fn judge(baseline: &Samples, canary: &Samples, config: &CanaryConfig) -> Judgement {
    let mut names: Vec<&String> = baseline
        .keys()
        .filter(|k| canary.contains_key(*k))
        .chain(config.metrics.keys())
        .collect();
    names.sort();
    names.dedup();
    let empty: Vec<f64> = Vec::new();
    let metrics: Vec<MetricJudgement> = names
        .into_iter()
        .map(|name| {
            let cfg = config.metrics.get(name).unwrap_or(&config.default_metric);
            judge_metric(
                name,
                cfg,
                config.method,
                baseline.get(name).unwrap_or(&empty),
                canary.get(name).unwrap_or(&empty),
            )
        })
        .collect();

    let judged: Vec<&MetricJudgement> = metrics
        .iter()
        .filter(|m| m.status != MetricStatus::NoData)
        .collect();
    let total: f64 = judged.iter().map(|m| m.weight.max(0.0)).sum();
    let passed: f64 = judged
        .iter()
        .filter(|m| m.status == MetricStatus::Pass)
        .map(|m| m.weight.max(0.0))
        .sum();
    let score = (total > 0.0).then(|| 100.0 * passed / total);

    let mut reasons = Vec::new();
    let critical_fail: Vec<&MetricJudgement> = metrics
        .iter()
        .filter(|m| m.critical && m.status == MetricStatus::Fail)
        .collect();
    let critical_nodata: Vec<&MetricJudgement> = metrics
        .iter()
        .filter(|m| m.critical && m.status == MetricStatus::NoData)
        .collect();
    for m in metrics.iter().filter(|m| m.status == MetricStatus::Fail) {
        let crit = if m.critical { "critical metric " } else { "" };
        reasons.push(format!("{crit}`{}` failed: {}", m.metric, m.reason));
    }
    let verdict = if !critical_fail.is_empty() {
        reasons.insert(
            0,
            format!(
                "critical metric(s) failed: {}",
                critical_fail
                    .iter()
                    .map(|m| format!("`{}`", m.metric))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        Verdict::Rollback
    } else if let Some(s) = score {
        if s < config.marginal_score {
            reasons.insert(
                0,
                format!(
                    "score {s:.1} is below the marginal score {}",
                    config.marginal_score
                ),
            );
            Verdict::Rollback
        } else if s < config.pass_score {
            reasons.insert(
                0,
                format!(
                    "score {s:.1} is between the marginal score {} and the pass score {}",
                    config.marginal_score, config.pass_score
                ),
            );
            Verdict::Hold
        } else if !critical_nodata.is_empty() {
            reasons.push(format!(
                "critical metric(s) without enough data: {}",
                critical_nodata
                    .iter()
                    .map(|m| format!("`{}` ({})", m.metric, m.reason))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Verdict::Hold
        } else {
            reasons.insert(
                0,
                format!("score {s:.1} reaches the pass score {}", config.pass_score),
            );
            Verdict::Promote
        }
    } else {
        reasons.push("no metric had enough samples on both sides to judge".into());
        Verdict::Hold
    };
    for m in metrics
        .iter()
        .filter(|m| m.status == MetricStatus::NoData && !m.critical)
    {
        reasons.push(format!("`{}` not judged: {}", m.metric, m.reason));
    }
    Judgement {
        verdict,
        score,
        pass_score: config.pass_score,
        marginal_score: config.marginal_score,
        reasons,
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_statistic_counts_pairs() {
        // x > y in all 9 pairs
        let r =
            mann_whitney_u(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0], Method::Asymptotic, true).unwrap();
        assert_eq!(r.u1, 9.0);
        assert_eq!(r.u2, 0.0);
        // ties count one half
        let r = mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], Method::Asymptotic, true).unwrap();
        assert_eq!(r.u1, 0.5);
    }

    #[test]
    fn exact_p_value_small_samples() {
        // n1 = n2 = 3, complete separation: P(U >= 9) = 1/20, two-sided 0.1
        let r = mann_whitney_u(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0], Method::Exact, true).unwrap();
        assert!(r.exact);
        assert!((r.p_value - 0.1).abs() < 1e-12);
        // identical ordering interleaved: p = 1
        let r = mann_whitney_u(&[1.0, 4.0], &[2.0, 3.0], Method::Exact, true).unwrap();
        assert!((r.p_value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn all_tied_is_not_significant() {
        let r = mann_whitney_u(&[1.0; 5], &[1.0; 6], Method::Asymptotic, true).unwrap();
        assert_eq!(r.p_value, 1.0);
    }

    proptest::proptest! {
        #[test]
        fn u_statistics_are_consistent(
            x in proptest::collection::vec(-50i32..50, 1..40),
            y in proptest::collection::vec(-50i32..50, 1..40),
        ) {
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let y: Vec<f64> = y.into_iter().map(f64::from).collect();
            let a = mann_whitney_u(&x, &y, Method::Auto, true).unwrap();
            let b = mann_whitney_u(&y, &x, Method::Auto, true).unwrap();
            let pairs = x.len() as f64 * y.len() as f64;
            proptest::prop_assert!((a.u1 + a.u2 - pairs).abs() < 1e-9);
            proptest::prop_assert!((a.u1 - b.u2).abs() < 1e-9);
            proptest::prop_assert!((0.0..=1.0).contains(&a.p_value));
            proptest::prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
            // U counts pairs directly
            let direct: f64 = x.iter().flat_map(|xi| y.iter().map(move |yi| {
                if xi > yi { 1.0 } else if xi == yi { 0.5 } else { 0.0 }
            })).sum();
            proptest::prop_assert!((a.u1 - direct).abs() < 1e-9);
        }
    }

    #[test]
    fn effect_sizes() {
        assert_eq!(cliffs_delta(&[4.0, 5.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(cliffs_delta(&[1.0, 2.0], &[4.0, 5.0]), Some(-1.0));
        assert_eq!(
            hodges_lehmann(&[11.0, 12.0, 13.0], &[1.0, 2.0, 3.0]),
            Some(10.0)
        );
    }

    fn samples(pairs: &[(&str, Vec<f64>)]) -> Samples {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn ramp(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| start + step * i as f64).collect()
    }

    #[test]
    fn critical_failure_rolls_back() {
        let base = samples(&[
            ("latency", ramp(100.0, 1.0, 20)),
            ("errors", ramp(0.0, 0.001, 20)),
        ]);
        let can = samples(&[
            ("latency", ramp(100.5, 1.0, 20)),
            ("errors", ramp(0.05, 0.001, 20)),
        ]);
        let mut cfg = CanaryConfig::default();
        cfg.metrics.insert(
            "errors".into(),
            MetricConfig {
                critical: true,
                ..MetricConfig::default()
            },
        );
        let j = judge(&base, &can, &cfg);
        assert_eq!(j.verdict, Verdict::Rollback);
        assert!(j.reasons[0].contains("`errors`"), "{:?}", j.reasons);
        let lat = j.metrics.iter().find(|m| m.metric == "latency").unwrap();
        assert_eq!(lat.status, MetricStatus::Pass);
    }

    #[test]
    fn similar_canary_is_promoted_and_better_is_not_bad() {
        let base = samples(&[
            ("latency", ramp(100.0, 1.0, 20)),
            ("rps", ramp(50.0, 1.0, 20)),
        ]);
        // latency much lower (good), rps the same
        let can = samples(&[
            ("latency", ramp(50.0, 1.0, 20)),
            ("rps", ramp(50.2, 1.0, 20)),
        ]);
        let j = judge(&base, &can, &CanaryConfig::default());
        assert_eq!(j.verdict, Verdict::Promote, "{:?}", j.reasons);
        assert_eq!(j.score, Some(100.0));
    }

    #[test]
    fn one_of_three_failing_holds_or_rolls_back_by_score() {
        let base = samples(&[
            ("a", ramp(0.0, 1.0, 20)),
            ("b", ramp(0.0, 1.0, 20)),
            ("c", ramp(0.0, 1.0, 20)),
            ("d", ramp(0.0, 1.0, 20)),
        ]);
        let mut can = base.clone();
        can.insert("d".into(), ramp(30.0, 1.0, 20));
        let j = judge(&base, &can, &CanaryConfig::default());
        assert_eq!(j.score, Some(75.0));
        assert_eq!(j.verdict, Verdict::Hold);
        can.insert("c".into(), ramp(30.0, 1.0, 20));
        let j = judge(&base, &can, &CanaryConfig::default());
        assert_eq!(j.verdict, Verdict::Rollback);
    }

    #[test]
    fn too_few_samples_is_no_data() {
        let base = samples(&[("a", vec![1.0, 2.0])]);
        let can = samples(&[("a", vec![10.0, 20.0])]);
        let j = judge(&base, &can, &CanaryConfig::default());
        assert_eq!(j.verdict, Verdict::Hold);
        assert_eq!(j.metrics[0].status, MetricStatus::NoData);
        assert_eq!(j.score, None);
    }

    #[test]
    fn parses_json_and_csv_forms() {
        let a = parse_samples("a.json", r#"{"lat": [1, 2.5], "err": ["0.1"]}"#).unwrap();
        assert_eq!(a["lat"], vec![1.0, 2.5]);
        assert_eq!(a["err"], vec![0.1]);
        let b = parse_samples("b.json", r#"{"metrics": {"lat": [3]}}"#).unwrap();
        assert_eq!(b["lat"], vec![3.0]);
        let c = parse_samples(
            "c.json",
            r#"[{"metric":"lat","value":1},{"metric":"lat","value":2}]"#,
        )
        .unwrap();
        assert_eq!(c["lat"], vec![1.0, 2.0]);
        let d = parse_samples("d.csv", "metric,value\nlat,1\nlat,2\nerr,0\n").unwrap();
        assert_eq!(d["lat"], vec![1.0, 2.0]);
        let e = parse_samples("e.csv", "lat,err\n1,0\n2,\n").unwrap();
        assert_eq!(e["lat"], vec![1.0, 2.0]);
        assert_eq!(e["err"], vec![0.0]);
        let bad = parse_samples("f.csv", "lat\nabc\n").unwrap_err();
        assert!(bad.to_string().contains("`abc`"), "{bad}");
        assert!(parse_samples("g.json", r#"{"lat": [NaN]}"#).is_err());
    }
}

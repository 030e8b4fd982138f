//! Just-in-time (JIT) change-risk models: the learning and measuring parts
//! shared by Bearing's own deployment-risk model ([`crate::risk`]) and the
//! ApacheJIT bench (`bench/jit.sh`).
//!
//! - **Missing is missing**: a feature row is `[Option<f64>]`. The scaler
//!   imputes a missing value with the training mean (a standardised 0), so a
//!   missing input moves no prediction and contributes nothing to its
//!   explanation, instead of pretending to be a zero.
//! - **Preprocessing**: per feature `log1p` (counts, sizes, ages) or identity,
//!   then standardisation fitted on the training rows only.
//! - **Learners** (both hand written, small and exact; see `docs/adapt.md`):
//!   L2-regularised logistic regression fitted by Newton's method (IRLS), and
//!   second-order gradient-boosted depth-limited trees on quantile bins
//!   (logistic loss). Both take sample weights; [`balanced_weights`] gives
//!   each class half of the total weight, so a 10% failure rate does not
//!   teach the model to say "fine" to everything.
//! - **Calibration**: Platt scaling (`p = σ(a·s + b)` on the learner's log-odds
//!   `s`) fitted on a slice of history *later* than the training rows, so the
//!   probabilities mean what they say on the future, not on the past.
//! - **Measures** ([`measure`]): ROC AUC (midranks), PR AUC (average precision,
//!   computed as scikit-learn's `average_precision_score`), precision, recall
//!   and F1 of the class-balanced learner at 0.5, Brier score of the
//!   calibrated probability beside the base-rate forecast's, recall at 20% of
//!   the changed lines (effort-aware, ranking by probability per changed line
//!   as in Kamei et al. 2013), and a reliability table.

use serde::{Deserialize, Serialize};

use crate::stats::midranks;

/// How a raw feature value is transformed before standardisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// `ln(1 + max(x, 0))`: counts, sizes and ages.
    Log1p,
    /// Rates and flags.
    Identity,
}

impl Transform {
    fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Log1p => x.max(0.0).ln_1p(),
            Transform::Identity => x,
        }
    }
}

/// Transformation and standardisation fitted on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub transforms: Vec<Transform>,
    /// Mean of the transformed feature over the training rows where it is known.
    pub mean: Vec<f64>,
    /// Standard deviation of the same (1 when constant).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits on `rows` (missing values ignored).
    pub fn fit(rows: &[Vec<Option<f64>>], transforms: &[Transform]) -> Scaler {
        let p = transforms.len();
        let (mut sum, mut sq, mut n) = (vec![0.0; p], vec![0.0; p], vec![0usize; p]);
        for row in rows {
            for (j, x) in row.iter().enumerate().take(p) {
                if let Some(x) = x.filter(|x| x.is_finite()) {
                    let t = transforms[j].apply(x);
                    sum[j] += t;
                    sq[j] += t * t;
                    n[j] += 1;
                }
            }
        }
        let mut mean = vec![0.0; p];
        let mut scale = vec![1.0; p];
        for j in 0..p {
            if n[j] > 0 {
                let m = sum[j] / n[j] as f64;
                let var = (sq[j] / n[j] as f64 - m * m).max(0.0);
                mean[j] = m;
                scale[j] = if var > 1e-12 { var.sqrt() } else { 1.0 };
            }
        }
        Scaler {
            transforms: transforms.to_vec(),
            mean,
            scale,
        }
    }

    /// The standardised row; a missing (or non-finite) value becomes 0.
    pub fn z(&self, row: &[Option<f64>]) -> Vec<f64> {
        (0..self.mean.len())
            .map(
                |j| match row.get(j).copied().flatten().filter(|x| x.is_finite()) {
                    Some(x) => (self.transforms[j].apply(x) - self.mean[j]) / self.scale[j],
                    None => 0.0,
                },
            )
            .collect()
    }
}

/// Logistic function, stable for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Sample weights giving each class half of the total weight
/// (`n / (2 n_class)`, scikit-learn's `class_weight="balanced"`).
pub fn balanced_weights(y: &[bool]) -> Vec<f64> {
    let n = y.len() as f64;
    let pos = y.iter().filter(|v| **v).count() as f64;
    let neg = n - pos;
    y.iter()
        .map(|&v| {
            let k = if v { pos } else { neg };
            if k > 0.0 { n / (2.0 * k) } else { 1.0 }
        })
        .collect()
}

/// L2-regularised logistic regression on standardised features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Coefficients on the standardised features.
    pub weights: Vec<f64>,
    pub intercept: f64,
    /// Penalty on the weights (the intercept is not penalised).
    pub l2: f64,
}

impl Logistic {
    /// Fits by Newton's method (IRLS) with sample weights `w`.
    pub fn fit(z: &[Vec<f64>], y: &[bool], w: &[f64], l2: f64) -> Logistic {
        let p = z.first().map_or(0, Vec::len);
        let k = p + 1;
        let (sw, swy) = y.iter().zip(w).fold((0.0, 0.0), |(a, b), (&yi, wi)| {
            (a + wi, b + if yi { *wi } else { 0.0 })
        });
        let base = (swy / sw.max(1e-12)).clamp(1e-6, 1.0 - 1e-6);
        let mut beta = vec![0.0; k];
        beta[0] = (base / (1.0 - base)).ln();
        for _ in 0..100 {
            let mut grad = vec![0.0; k];
            let mut hess = vec![vec![0.0; k]; k];
            for ((x, &yi), wi) in z.iter().zip(y).zip(w) {
                let eta = beta[0] + x.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>();
                let mu = sigmoid(eta);
                let r = wi * (mu - if yi { 1.0 } else { 0.0 });
                let h = wi * (mu * (1.0 - mu)).max(1e-10);
                let xi = |i: usize| if i == 0 { 1.0 } else { x[i - 1] };
                for (i, row) in hess.iter_mut().enumerate() {
                    grad[i] += r * xi(i);
                    for (j, cell) in row.iter_mut().enumerate().skip(i) {
                        *cell += h * xi(i) * xi(j);
                    }
                }
            }
            for i in 1..k {
                grad[i] += l2 * beta[i];
                hess[i][i] += l2;
            }
            #[allow(clippy::needless_range_loop)] // symmetric fill reads the other triangle
            for i in 0..k {
                for j in 0..i {
                    hess[i][j] = hess[j][i];
                }
            }
            let Some(step) = solve(hess, grad) else {
                break;
            };
            let mut max = 0.0f64;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b -= s;
                max = max.max(s.abs());
            }
            if max < 1e-9 {
                break;
            }
        }
        Logistic {
            weights: beta[1..].to_vec(),
            intercept: beta[0],
            l2,
        }
    }

    /// Log-odds of a standardised row.
    pub fn logit(&self, z: &[f64]) -> f64 {
        self.intercept + z.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>()
    }

    /// Each feature's contribution to the log-odds (`weight × z`).
    pub fn contributions(&self, z: &[f64]) -> Vec<f64> {
        z.iter().zip(&self.weights).map(|(a, b)| a * b).collect()
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
pub(crate) fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f == 0.0 {
                continue;
            }
            let (top, bottom) = a.split_at_mut(row);
            for (x, p) in bottom[0][col..].iter_mut().zip(&top[col][col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Parameters of the boosted trees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtParams {
    pub rounds: usize,
    pub depth: usize,
    pub learning_rate: f64,
    /// L2 penalty on leaf values (XGBoost's λ).
    pub lambda: f64,
    /// Minimum hessian (weighted) in a child.
    pub min_child_weight: f64,
    /// Candidate thresholds per feature (quantiles of the training rows).
    pub bins: usize,
}

impl Default for GbtParams {
    fn default() -> Self {
        GbtParams {
            rounds: 150,
            depth: 3,
            learning_rate: 0.05,
            lambda: 1.0,
            min_child_weight: 5.0,
            bins: 32,
        }
    }
}

/// A node of a regression tree; `value` is the node's own leaf value (used
/// for explanations at inner nodes too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub value: f64,
    /// `(feature, threshold, left, right)`: `z[feature] <= threshold` goes left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<(usize, f64, usize, usize)>,
}

/// Gradient-boosted trees for the logistic loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbt {
    pub base: f64,
    pub learning_rate: f64,
    pub trees: Vec<Vec<Node>>,
}

impl Gbt {
    /// Fits on standardised rows with sample weights.
    pub fn fit(z: &[Vec<f64>], y: &[bool], w: &[f64], params: &GbtParams) -> Gbt {
        let n = z.len();
        let p = z.first().map_or(0, Vec::len);
        // candidate thresholds: distinct quantiles of each feature
        let thresholds: Vec<Vec<f64>> = (0..p)
            .map(|j| {
                let mut col: Vec<f64> = z.iter().map(|r| r[j]).collect();
                col.sort_by(f64::total_cmp);
                let mut t: Vec<f64> = (1..params.bins)
                    .map(|b| col[(b * n / params.bins).min(n.saturating_sub(1))])
                    .collect();
                t.dedup();
                t
            })
            .collect();
        // bin index of each value: number of thresholds below it
        let binned: Vec<Vec<u16>> = z
            .iter()
            .map(|r| {
                (0..p)
                    .map(|j| thresholds[j].partition_point(|t| *t < r[j]) as u16)
                    .collect()
            })
            .collect();
        let (sw, swy) = y.iter().zip(w).fold((0.0, 0.0), |(a, b), (&yi, wi)| {
            (a + wi, b + if yi { *wi } else { 0.0 })
        });
        let base_p = (swy / sw.max(1e-12)).clamp(1e-6, 1.0 - 1e-6);
        let base = (base_p / (1.0 - base_p)).ln();
        let mut f = vec![base; n];
        let mut trees = Vec::with_capacity(params.rounds);
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
        for _ in 0..params.rounds {
            for i in 0..n {
                let mu = sigmoid(f[i]);
                g[i] = w[i] * (mu - if y[i] { 1.0 } else { 0.0 });
                h[i] = w[i] * (mu * (1.0 - mu)).max(1e-10);
            }
            let mut nodes = Vec::new();
            let all: Vec<usize> = (0..n).collect();
            grow(
                &mut nodes,
                &all,
                0,
                &Grow {
                    binned: &binned,
                    thresholds: &thresholds,
                    g: &g,
                    h: &h,
                    params,
                },
            );
            for (i, row) in z.iter().enumerate() {
                f[i] += params.learning_rate * leaf(&nodes, row);
            }
            trees.push(nodes);
        }
        Gbt {
            base,
            learning_rate: params.learning_rate,
            trees,
        }
    }

    /// Log-odds of a standardised row.
    pub fn logit(&self, z: &[f64]) -> f64 {
        self.base + self.learning_rate * self.trees.iter().map(|t| leaf(t, z)).sum::<f64>()
    }

    /// Per-feature contributions to the log-odds along each tree's path
    /// (child value minus parent value, credited to the parent's split
    /// feature; Saabas). They sum to the log-odds minus the base and the
    /// trees' root values.
    pub fn contributions(&self, z: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; z.len()];
        for t in &self.trees {
            let mut i = 0;
            while let Some((j, thr, l, r)) = t[i].split {
                let next = if z[j] <= thr { l } else { r };
                c[j] += self.learning_rate * (t[next].value - t[i].value);
                i = next;
            }
        }
        c
    }
}

struct Grow<'a> {
    binned: &'a [Vec<u16>],
    thresholds: &'a [Vec<f64>],
    g: &'a [f64],
    h: &'a [f64],
    params: &'a GbtParams,
}

fn leaf(nodes: &[Node], z: &[f64]) -> f64 {
    let mut i = 0;
    while let Some((j, thr, l, r)) = nodes[i].split {
        i = if z[j] <= thr { l } else { r };
    }
    nodes[i].value
}

/// Grows the subtree over `rows` and returns its node index.
fn grow(nodes: &mut Vec<Node>, rows: &[usize], depth: usize, cx: &Grow<'_>) -> usize {
    let lambda = cx.params.lambda;
    let (gs, hs) = rows
        .iter()
        .fold((0.0, 0.0), |(a, b), &i| (a + cx.g[i], b + cx.h[i]));
    let id = nodes.len();
    nodes.push(Node {
        value: -gs / (hs + lambda),
        split: None,
    });
    if depth >= cx.params.depth || hs < 2.0 * cx.params.min_child_weight {
        return id;
    }
    let parent = gs * gs / (hs + lambda);
    let mut best: Option<(f64, usize, usize)> = None; // gain, feature, bin
    for (j, thr) in cx.thresholds.iter().enumerate() {
        if thr.is_empty() {
            continue;
        }
        let mut hg = vec![0.0; thr.len() + 1];
        let mut hh = vec![0.0; thr.len() + 1];
        for &i in rows {
            let b = cx.binned[i][j] as usize;
            hg[b] += cx.g[i];
            hh[b] += cx.h[i];
        }
        let (mut gl, mut hl) = (0.0, 0.0);
        // left = bins 0..=b, i.e. z <= thr[b]
        for b in 0..thr.len() {
            gl += hg[b];
            hl += hh[b];
            let (gr, hr) = (gs - gl, hs - hl);
            if hl < cx.params.min_child_weight || hr < cx.params.min_child_weight {
                continue;
            }
            let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
            if gain > 1e-9 && best.is_none_or(|(bg, _, _)| gain > bg) {
                best = Some((gain, j, b));
            }
        }
    }
    let Some((_, j, b)) = best else {
        return id;
    };
    let (left, right): (Vec<usize>, Vec<usize>) =
        rows.iter().partition(|&&i| (cx.binned[i][j] as usize) <= b);
    let l = grow(nodes, &left, depth + 1, cx);
    let r = grow(nodes, &right, depth + 1, cx);
    nodes[id].split = Some((j, cx.thresholds[j][b], l, r));
    id
}

/// Which learner a model uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Learner {
    Logistic(Logistic),
    Gbt(Gbt),
}

impl Learner {
    pub fn logit(&self, z: &[f64]) -> f64 {
        match self {
            Learner::Logistic(m) => m.logit(z),
            Learner::Gbt(m) => m.logit(z),
        }
    }

    pub fn contributions(&self, z: &[f64]) -> Vec<f64> {
        match self {
            Learner::Logistic(m) => m.contributions(z),
            Learner::Gbt(m) => m.contributions(z),
        }
    }
}

/// Which learner to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Logistic { l2: f64 },
    Gbt(GbtParams),
}

/// Platt scaling: `p = σ(a·s + b)` on the learner's log-odds `s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Platt {
    /// Identity on the log-odds.
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    /// Fits on log-odds `s` and outcomes `y` with Platt's smoothed targets
    /// (`(N+ + 1)/(N+ + 2)` and `1/(N- + 2)`) by Newton's method.
    pub fn fit(s: &[f64], y: &[bool]) -> Platt {
        let pos = y.iter().filter(|v| **v).count() as f64;
        let neg = y.len() as f64 - pos;
        let (tp, tn) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&si, &yi) in s.iter().zip(y) {
                let t = if yi { tp } else { tn };
                let p = sigmoid(a * si + b);
                let (r, w) = (p - t, (p * (1.0 - p)).max(1e-12));
                ga += r * si;
                gb += r;
                haa += w * si * si;
                hab += w * si;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs().max(db.abs()) < 1e-10 {
                break;
            }
        }
        Platt { a, b }
    }

    pub fn apply(&self, s: f64) -> f64 {
        sigmoid(self.a * s + self.b)
    }
}

/// A fitted, calibrated model over named features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JitModel {
    pub features: Vec<String>,
    pub scaler: Scaler,
    pub learner: Learner,
    pub platt: Platt,
}

impl JitModel {
    /// Fits the learner on `train` (class-balanced weights) and Platt scaling
    /// on `calibrate` (rows later in time). Without calibration rows having
    /// both outcomes, the class-balanced log-odds are shifted back to the
    /// training base rate instead.
    pub fn fit(
        features: &[&str],
        transforms: &[Transform],
        train: (&[Vec<Option<f64>>], &[bool]),
        calibrate: (&[Vec<Option<f64>>], &[bool]),
        kind: Kind,
    ) -> JitModel {
        let scaler = Scaler::fit(train.0, transforms);
        let z: Vec<Vec<f64>> = train.0.iter().map(|r| scaler.z(r)).collect();
        let w = balanced_weights(train.1);
        let learner = match kind {
            Kind::Logistic { l2 } => Learner::Logistic(Logistic::fit(&z, train.1, &w, l2)),
            Kind::Gbt(p) => Learner::Gbt(Gbt::fit(&z, train.1, &w, &p)),
        };
        let s: Vec<f64> = calibrate
            .0
            .iter()
            .map(|r| learner.logit(&scaler.z(r)))
            .collect();
        let cal_pos = calibrate.1.iter().filter(|v| **v).count();
        let platt = if cal_pos > 0 && cal_pos < calibrate.1.len() {
            Platt::fit(&s, calibrate.1)
        } else {
            // balanced weights shift the log-odds by ln(neg/pos): undo that
            let pos = train.1.iter().filter(|v| **v).count().max(1) as f64;
            let neg = (train.1.len() as f64 - pos).max(1.0);
            Platt {
                a: 1.0,
                b: (pos / neg).ln(),
            }
        };
        JitModel {
            features: features.iter().map(ToString::to_string).collect(),
            scaler,
            learner,
            platt,
        }
    }

    /// The learner's (class-balanced, uncalibrated) log-odds.
    pub fn logit(&self, row: &[Option<f64>]) -> f64 {
        self.learner.logit(&self.scaler.z(row))
    }

    /// The calibrated probability.
    pub fn probability(&self, row: &[Option<f64>]) -> f64 {
        self.platt.apply(self.logit(row))
    }

    /// Each feature's contribution to the calibrated log-odds (the learner's
    /// contribution times Platt's slope), largest magnitude first. A missing
    /// feature contributes 0.
    pub fn contributions(&self, row: &[Option<f64>]) -> Vec<(String, f64)> {
        let z = self.scaler.z(row);
        let mut c: Vec<(String, f64)> = self
            .features
            .iter()
            .cloned()
            .zip(
                self.learner
                    .contributions(&z)
                    .into_iter()
                    .map(|v| v * self.platt.a),
            )
            .collect();
        c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        c
    }
}

/// One reliability bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub n: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Held-out figures of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub positives: usize,
    /// ROC AUC of the calibrated probability (`None` without both classes).
    pub roc_auc: Option<f64>,
    /// Hanley-McNeil standard error of the ROC AUC.
    pub roc_auc_se: Option<f64>,
    /// Average precision (PR AUC; `None` without failures).
    pub pr_auc: Option<f64>,
    /// Of the class-balanced learner at log-odds 0 (probability 0.5).
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Mean squared error of the calibrated probability.
    pub brier: f64,
    /// Brier score of always forecasting `base_rate`.
    pub brier_base_rate: f64,
    pub base_rate: f64,
    /// Share of the failures found inspecting changes by decreasing
    /// probability per changed line until 20% of all changed lines are spent
    /// (`None` without failures or without effort).
    pub recall_at_20_effort: Option<f64>,
    pub calibration: Vec<CalibrationBin>,
}

/// ROC AUC (probability a positive scores above a negative, ties half) and
/// its Hanley-McNeil standard error.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let pos = labels.iter().filter(|l| **l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (ranks, _) = midranks(scores);
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    let (p, q) = (pos as f64, neg as f64);
    let a = (rank_sum - p * (p + 1.0) / 2.0) / (p * q);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (q - 1.0) * (q2 - a * a)) / (p * q);
    Some((a, var.max(0.0).sqrt()))
}

/// Average precision: `Σ (R_k − R_{k−1}) P_k` over the distinct score
/// thresholds, highest first (scikit-learn's `average_precision_score`).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let pos = labels.iter().filter(|l| **l).count();
    if pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let recall = tp / pos as f64;
        ap += (recall - last_recall) * tp / (tp + fp);
        last_recall = recall;
    }
    Some(ap)
}

/// Recall of the failures when inspecting changes by decreasing
/// `probability / effort` (effort at least 1 line) until `share` of the total
/// effort is spent; a change is inspected only if it fits in the budget.
pub fn recall_at_effort(probs: &[f64], labels: &[bool], effort: &[f64], share: f64) -> Option<f64> {
    let pos = labels.iter().filter(|l| **l).count();
    let e: Vec<f64> = effort.iter().map(|e| e.max(1.0)).collect();
    let total: f64 = e.iter().sum();
    if pos == 0 || total <= 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| {
        (probs[b] / e[b])
            .total_cmp(&(probs[a] / e[a]))
            .then(e[a].total_cmp(&e[b]))
    });
    let budget = share * total;
    let (mut spent, mut found) = (0.0, 0usize);
    for i in order {
        if spent + e[i] > budget {
            break;
        }
        spent += e[i];
        found += usize::from(labels[i]);
    }
    Some(found as f64 / pos as f64)
}

/// Reliability table: `bins` equal-width bins of the predicted probability.
pub fn reliability(probs: &[f64], labels: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let mut out = Vec::new();
    for b in 0..bins {
        let lower = b as f64 / bins as f64;
        let upper = (b + 1) as f64 / bins as f64;
        let members: Vec<(f64, bool)> = probs
            .iter()
            .zip(labels)
            .filter(|(p, _)| **p >= lower && (**p < upper || (b == bins - 1 && **p <= upper)))
            .map(|(p, l)| (*p, *l))
            .collect();
        if members.is_empty() {
            continue;
        }
        let n = members.len() as f64;
        out.push(CalibrationBin {
            lower,
            upper,
            n: members.len(),
            mean_predicted: members.iter().map(|m| m.0).sum::<f64>() / n,
            observed_rate: members.iter().filter(|m| m.1).count() as f64 / n,
        });
    }
    out
}

/// Measures calibrated probabilities `probs`, the learner's log-odds
/// `logits` (for the 0.5 classification) and the effort of each change,
/// against `labels`; `base_rate` is the training failure rate.
pub fn measure(
    probs: &[f64],
    logits: &[f64],
    labels: &[bool],
    effort: &[f64],
    base_rate: f64,
) -> Metrics {
    let n = labels.len();
    let positives = labels.iter().filter(|l| **l).count();
    let y = |l: bool| if l { 1.0 } else { 0.0 };
    let nf = (n as f64).max(1.0);
    let brier = probs
        .iter()
        .zip(labels)
        .map(|(p, l)| (p - y(*l)).powi(2))
        .sum::<f64>()
        / nf;
    let brier_base_rate = labels
        .iter()
        .map(|l| (base_rate - y(*l)).powi(2))
        .sum::<f64>()
        / nf;
    let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
    for (s, &l) in logits.iter().zip(labels) {
        match (*s >= 0.0, l) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            _ => {}
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fneg > 0.0 {
        tp / (tp + fneg)
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let auc = roc_auc(probs, labels);
    Metrics {
        n,
        positives,
        roc_auc: auc.map(|a| a.0),
        roc_auc_se: auc.map(|a| a.1),
        pr_auc: average_precision(probs, labels),
        precision,
        recall,
        f1,
        brier,
        brier_base_rate,
        base_rate,
        recall_at_20_effort: recall_at_effort(probs, labels, effort, 0.2),
        calibration: reliability(probs, labels, if n < 100 { 5 } else { 10 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_by_hand() {
        // sorted: 0.9 T, 0.8 F, 0.7 T, 0.1 F -> P@1 = 1, P@3 = 2/3; AP = .5*1 + .5*2/3
        let ap = average_precision(&[0.1, 0.9, 0.7, 0.8], &[false, true, true, false]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-12, "{ap}");
        // a tie between a positive and a negative at the top counts as one threshold
        let ap = average_precision(&[0.5, 0.5, 0.1], &[true, false, true]).unwrap();
        assert!((ap - (0.5 * 0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12, "{ap}");
        assert!(average_precision(&[0.3], &[false]).is_none());
    }

    #[test]
    fn recall_at_effort_by_hand() {
        // effort 100 total; 20% = 20 lines. Densities: a 0.9/10, b 0.8/50, c 0.5/5, d 0.1/35
        // order: c (0.1), a (0.09), b (0.016), d (0.0029); c+a = 15 lines fit, b does not
        let probs = [0.9, 0.8, 0.5, 0.1];
        let labels = [true, true, false, true];
        let effort = [10.0, 50.0, 5.0, 35.0];
        let r = recall_at_effort(&probs, &labels, &effort, 0.2).unwrap();
        assert!((r - 1.0 / 3.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn missing_values_are_imputed_with_the_training_mean() {
        let rows = vec![vec![Some(0.0)], vec![Some(3.0)], vec![None]];
        let s = Scaler::fit(&rows, &[Transform::Log1p]);
        let m = (0.0f64.ln_1p() + 3.0f64.ln_1p()) / 2.0;
        assert!((s.mean[0] - m).abs() < 1e-12);
        assert_eq!(s.z(&[None]), vec![0.0]);
        assert!(s.z(&[Some(0.0)])[0] < 0.0);
    }

    #[test]
    fn platt_recovers_a_known_slope_and_offset() {
        // outcomes drawn with p = σ(2 s − 1) on a grid: the fit lands near (2, −1)
        let mut s = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let si = -3.0 + 6.0 * (i as f64 / 2000.0);
            let p = sigmoid(2.0 * si - 1.0);
            // deterministic stratified labels: the fraction p of each block of 20 is positive
            s.push(si);
            y.push(((i * 7919) % 100) as f64 / 100.0 < p);
        }
        let pl = Platt::fit(&s, &y);
        assert!(
            (pl.a - 2.0).abs() < 0.3 && (pl.b + 1.0).abs() < 0.3,
            "{pl:?}"
        );
    }

    #[test]
    fn boosted_trees_learn_an_interaction_logistic_regression_cannot() {
        // failure when x0 and x1 have the same sign (XOR-like): no linear signal
        let mut seed = 7u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for _ in 0..1500 {
            let (a, b) = (rnd() - 0.5, rnd() - 0.5);
            rows.push(vec![Some(a), Some(b)]);
            let p = if a * b > 0.0 { 0.4 } else { 0.05 };
            y.push(rnd() < p);
        }
        let t = [Transform::Identity; 2];
        let (tr, te) = (1000, 1500);
        let fit = |kind| {
            let m = JitModel::fit(
                &["a", "b"],
                &t,
                (&rows[..800], &y[..800]),
                (&rows[800..tr], &y[800..tr]),
                kind,
            );
            let p: Vec<f64> = rows[tr..te].iter().map(|r| m.probability(r)).collect();
            roc_auc(&p, &y[tr..te]).unwrap().0
        };
        let lr = fit(Kind::Logistic { l2: 1.0 });
        let gbt = fit(Kind::Gbt(GbtParams::default()));
        assert!(lr < 0.6, "logistic {lr}");
        assert!(gbt > 0.7, "trees {gbt}");
    }
}

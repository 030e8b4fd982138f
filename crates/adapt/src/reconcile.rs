//! Reconcile: evaluates the intent's `adaptation` rules against current
//! outcomes, derives each service's delivery plan, records an action with its
//! evidence whenever a rule starts or stops holding, and — once a rule's
//! `evaluate_after` window has passed — measures whether the metric moved.
//!
//! The plan is derived, not patched: a service's plan is its intent default
//! (`delivery.strategy`, no freeze, no extra gates) tightened by every rule
//! that holds for it now (strategy only ever tightened direct < blue-green <
//! canary, freeze if any rule freezes, extra gates united). A rule that stops
//! holding therefore relaxes exactly what it set, and reconciling twice with
//! nothing new changes nothing.
//!
//! Values resting on too few samples (see `bearing_metrics::min_samples`)
//! are not acted on: the comparison counts as not holding and the check says
//! why.

use std::collections::{BTreeMap, BTreeSet};

use bearing_events::{Action, ActionStatus, DeliveryPlan};
use bearing_intent::catalog;
use bearing_intent::expr::{self, Comparison};
use bearing_intent::units::Comparator;
use bearing_intent::{AdaptationRule, Duration, Intent, PlanChange, RuleAction, Scope, Strategy};
use bearing_metrics::{DEFAULT_WINDOW, Dataset, MetricValue, evaluate, format_value};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// Record ids kept per metric value in an action's evidence.
const EVIDENCE_RECORDS: usize = 50;

/// Default time after which an applied rule's effect is measured.
pub const DEFAULT_EVALUATE_AFTER: Duration = Duration::from_days(7);

/// One comparison of a rule, evaluated for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonValue {
    pub metric: String,
    pub window_seconds: u64,
    /// `>`, `<=`, …
    pub cmp: String,
    /// The threshold in base units.
    pub threshold: f64,
    /// The value in base units, when there is one.
    pub value: Option<f64>,
    pub samples: usize,
    pub too_few_samples: bool,
    pub holds: bool,
    /// First record ids behind the value.
    pub records: Vec<String>,
    pub records_total: usize,
    /// The comparison as people read it: `dora.change_failure_rate(30d) = 25.0% > 15%`.
    pub display: String,
}

/// A rule evaluated for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleCheck {
    pub rule: String,
    pub service: String,
    pub when: String,
    pub holds: bool,
    pub values: Vec<ComparisonValue>,
}

/// What a reconcile pass decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileOutcome {
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    /// Plans that differ from the stored ones (new or changed).
    pub plans: Vec<DeliveryPlan>,
    /// Actions that are new or updated (status change, measured outcome).
    pub actions: Vec<Action>,
    /// Every rule × service evaluation, for explanation.
    pub checks: Vec<RuleCheck>,
    /// Rules that could not be evaluated (bad expression), with the reason.
    pub errors: Vec<String>,
}

/// The id of the `index`-th rule as used in the action log.
pub fn rule_id(rule: &AdaptationRule, index: usize) -> String {
    rule.id.clone().unwrap_or_else(|| format!("rule-{index}"))
}

/// Parses a stored strategy name (`direct`, `blue-green`, `canary`).
pub fn parse_strategy(s: &str) -> Option<Strategy> {
    match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "direct" => Some(Strategy::Direct),
        "blue-green" | "bluegreen" => Some(Strategy::BlueGreen),
        "canary" => Some(Strategy::Canary),
        _ => None,
    }
}

/// Services a rule applies to.
fn services_in_scope<'a>(intent: &'a Intent, scope: &Scope) -> Vec<&'a str> {
    intent
        .services
        .iter()
        .filter(|s| scope.service.as_deref().is_none_or(|id| id == s.id))
        .filter(|s| scope.team.as_deref().is_none_or(|t| t == s.team))
        .map(|s| s.id.as_str())
        .collect()
}

fn comparison_value(c: &Comparison, v: &MetricValue, window: Duration) -> ComparisonValue {
    let threshold = c.value.base_value();
    let usable = v.value.filter(|_| !v.too_few_samples);
    let shown = v.value.map_or("no value".to_string(), |x| {
        format_value(v.unit, x, Some(&c.value), v.currency.as_deref())
    });
    let few = if v.too_few_samples && v.value.is_some() {
        " (too few samples)"
    } else {
        ""
    };
    let display = format!(
        "{}({window}) = {shown}{few} {} {}",
        c.metric,
        c.cmp.symbol(),
        c.value
    );
    ComparisonValue {
        display,
        metric: c.metric.clone(),
        window_seconds: window.as_secs(),
        cmp: c.cmp.symbol().to_string(),
        threshold,
        value: v.value,
        samples: v.samples,
        too_few_samples: v.too_few_samples,
        holds: usable.is_some_and(|x| c.cmp.holds(x, threshold)),
        records: v.records.iter().take(EVIDENCE_RECORDS).cloned().collect(),
        records_total: v.records.len(),
    }
}

/// Whether lower values of the rule's first metric are what the action wants.
fn wants_lower(cmp: Comparator, metric: &str) -> bool {
    match cmp {
        // the rule fires when the metric is too high: the action should lower it
        Comparator::Gt | Comparator::Ge => true,
        Comparator::Lt | Comparator::Le => false,
        Comparator::Eq | Comparator::Ne => {
            catalog::lookup(metric).is_none_or(|d| d.lower_is_better)
        }
    }
}

fn describe(change: &PlanChange) -> String {
    let mut parts = Vec::new();
    if let Some(s) = change.strategy {
        parts.push(format!("strategy {}", s.name()));
    }
    if let Some(f) = change.freeze {
        parts.push(if f {
            "freeze".to_string()
        } else {
            "unfreeze".to_string()
        });
    }
    if !change.extra_gates.is_empty() {
        parts.push(format!("extra gates {}", change.extra_gates.join(", ")));
    }
    if parts.is_empty() {
        "no plan change".into()
    } else {
        parts.join(", ")
    }
}

fn fmt_values(values: &[ComparisonValue]) -> String {
    values
        .iter()
        .map(|v| v.display.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether an action is the live application of a rule (not a relaxation,
/// not reverted or dismissed).
fn is_active_apply(a: &Action, rule: &str, service: &str) -> bool {
    a.origin == rule
        && a.service.as_deref() == Some(service)
        && a.status == ActionStatus::Applied
        && a.change
            .as_ref()
            .and_then(|c| c.get("kind"))
            .and_then(Value::as_str)
            == Some("apply")
}

/// Evaluates every rule for every service in its scope, derives the plans
/// and the actions (see the module docs). Pure: the caller stores the result
/// unless `dry_run`.
pub fn reconcile(
    intent: &Intent,
    ds: &Dataset,
    plans: &[DeliveryPlan],
    actions: &[Action],
    now: DateTime<Utc>,
    dry_run: bool,
) -> ReconcileOutcome {
    let no_filter = BTreeMap::new();
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    let mut new_actions: Vec<Action> = Vec::new();
    // service -> (rule id, change) of rules holding now
    let mut holding: BTreeMap<&str, Vec<(String, &PlanChange)>> = BTreeMap::new();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();

    for (index, rule) in intent.adaptation.iter().enumerate() {
        let id = rule_id(rule, index);
        let parsed = match expr::parse(&rule.when) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!(
                    "rule `{id}`: cannot parse `{}` at offset {}: {e}",
                    rule.when, e.offset
                ));
                continue;
            }
        };
        let comparisons = parsed.comparisons();
        let Some(first) = comparisons.first().copied() else {
            continue;
        };
        for service in services_in_scope(intent, &rule.scope) {
            let scope = Scope {
                service: Some(service.to_string()),
                environment: rule.scope.environment.clone(),
                team: None,
            };
            let mut values: Vec<ComparisonValue> = Vec::new();
            let holds = parsed.eval(&mut |c: &Comparison| {
                let window = c.window.unwrap_or(DEFAULT_WINDOW);
                let v = evaluate(ds, &c.metric, &scope, &no_filter, window, now);
                let cv = comparison_value(c, &v, window);
                let usable = v.value.filter(|_| !v.too_few_samples);
                if !values
                    .iter()
                    .any(|x| x.metric == cv.metric && x.window_seconds == cv.window_seconds)
                {
                    values.push(cv);
                }
                usable
            });
            // evaluate every comparison for the evidence, even those `and`/`or` skipped
            for c in &comparisons {
                let window = c.window.unwrap_or(DEFAULT_WINDOW);
                if !values
                    .iter()
                    .any(|x| x.metric == c.metric && x.window_seconds == window.as_secs())
                {
                    let v = evaluate(ds, &c.metric, &scope, &no_filter, window, now);
                    values.push(comparison_value(c, &v, window));
                }
            }
            let active = actions
                .iter()
                .filter(|a| is_active_apply(a, &id, service))
                .max_by_key(|a| a.created_at);
            let first_window = first.window.unwrap_or(DEFAULT_WINDOW);
            let first_value = values
                .iter()
                .find(|v| v.metric == first.metric && v.window_seconds == first_window.as_secs())
                .and_then(|v| v.value);
            let evidence = json!({
                "rule": id,
                "when": rule.when,
                "service": service,
                "scope": scope,
                "metric": first.metric,
                "window_seconds": first_window.as_secs(),
                "cmp": first.cmp.symbol(),
                "threshold": first.value.base_value(),
                "values": values,
            });
            if rule.then.action.is_some() {
                // an action on workloads: proposed while the rule holds, never relaxed
                if holds && rule.then.action == Some(RuleAction::Rightsize) {
                    new_actions.extend(rightsize_actions(
                        ds,
                        actions,
                        &id,
                        service,
                        first_window,
                        now,
                        &evidence,
                    ));
                }
                if holds && rule.then.action == Some(RuleAction::Scale) {
                    let after = rule
                        .evaluate_after
                        .unwrap_or(DEFAULT_EVALUATE_AFTER)
                        .max(first_window);
                    new_actions.extend(scale_action(
                        ds,
                        actions,
                        rule,
                        (&id, service),
                        after.after(now),
                        now,
                        (&evidence, first_value),
                    ));
                }
            } else if holds {
                holding
                    .entry(service)
                    .or_default()
                    .push((id.clone(), &rule.then));
                if active.is_none() {
                    // The effect is measured over a window as long as the
                    // baseline's, starting no earlier than the action: the
                    // two windows never share a day.
                    let after = rule
                        .evaluate_after
                        .unwrap_or(DEFAULT_EVALUATE_AFTER)
                        .max(first_window);
                    new_actions.push(Action {
                        id: format!("{id}:{service}:{stamp}"),
                        created_at: now,
                        service: Some(service.to_string()),
                        origin: id.clone(),
                        summary: format!(
                            "{}: {} because {}",
                            service,
                            describe(&rule.then),
                            fmt_values(&values)
                        ),
                        status: ActionStatus::Applied,
                        metric: first.metric.clone(),
                        baseline: first_value,
                        // Representable for every accepted `now` (at most year 9999 + 100 years).
                        evaluate_at: after.after(now),
                        outcome: None,
                        evidence,
                        change: Some(json!({ "kind": "apply", "plan": rule.then })),
                    });
                }
            } else if let Some(prev) = active {
                // the rule stopped holding: its change is relaxed; log both sides
                let mut ended = prev.clone();
                ended.status = ActionStatus::Reverted;
                new_actions.push(ended);
                new_actions.push(Action {
                    id: format!("{id}:{service}:relax:{stamp}"),
                    created_at: now,
                    service: Some(service.to_string()),
                    origin: id.clone(),
                    summary: format!(
                        "{}: relax {} (rule no longer holds: {})",
                        service,
                        describe(&rule.then),
                        fmt_values(&values)
                    ),
                    status: ActionStatus::Applied,
                    metric: first.metric.clone(),
                    baseline: first_value,
                    evaluate_at: None,
                    outcome: None,
                    evidence,
                    change: Some(json!({ "kind": "relax", "plan": rule.then, "relaxes": prev.id })),
                });
            }
            checks.push(RuleCheck {
                rule: id.clone(),
                service: service.to_string(),
                when: rule.when.clone(),
                holds,
                values,
            });
        }
    }

    // measure the effect of applied actions whose after-window is complete
    for a in actions {
        if a.outcome.is_some() || measure_at(a).is_none_or(|t| t > now) {
            continue;
        }
        let is_apply = a
            .change
            .as_ref()
            .and_then(|c| c.get("kind"))
            .and_then(Value::as_str)
            == Some("apply");
        // a proposal never applied has no effect to measure
        if !is_apply || matches!(a.status, ActionStatus::Dismissed | ActionStatus::Proposed) {
            continue;
        }
        // an accepted pipeline insight waits for enough runs after it
        if crate::pipeline::waiting(ds, a, action_window(a), now) {
            continue;
        }
        // use the latest version of the action (it may have been reverted just now)
        let mut updated = new_actions
            .iter()
            .find(|x| x.id == a.id)
            .cloned()
            .unwrap_or_else(|| a.clone());
        updated.outcome = Some(measure(ds, &updated, now));
        new_actions.retain(|x| x.id != a.id);
        new_actions.push(updated);
    }

    let plans = derive_plans(intent, plans, &holding, now);
    ReconcileOutcome {
        at: now,
        dry_run,
        plans,
        actions: new_actions,
        checks,
        errors,
    }
}

/// Rightsizing proposals of a rule holding for `service`: one per workload
/// worth resizing that has no proposal or unmeasured resize from the rule yet.
fn rightsize_actions(
    ds: &Dataset,
    actions: &[Action],
    rule: &str,
    service: &str,
    window: Duration,
    now: DateTime<Utc>,
    evidence: &Value,
) -> Vec<Action> {
    let scope = Scope {
        service: Some(service.to_string()),
        ..Scope::default()
    };
    let pending = |workload: &str| {
        actions.iter().any(|a| {
            a.origin == rule
                && a.outcome.is_none()
                && matches!(a.status, ActionStatus::Proposed | ActionStatus::Applied)
                && a.change
                    .as_ref()
                    .and_then(|c| c.get("workload"))
                    .and_then(Value::as_str)
                    == Some(workload)
        })
    };
    crate::rightsize::candidates(ds, &scope, &BTreeMap::new(), window, now)
        .into_iter()
        .filter(|c| c.actionable() && !pending(&c.sizing.workload))
        .map(|c| {
            let mut a = crate::rightsize::action(ds, &c, rule, window, now, json!([]));
            a.status = ActionStatus::Proposed;
            if let Some(obj) = a.evidence.as_object_mut() {
                obj.insert("rule".into(), evidence.clone());
            }
            a
        })
        .collect()
}

/// The replicas proposal of an `action: scale` rule holding for a service,
/// unless the rule's last unmeasured action already asks for the same.
fn scale_action(
    ds: &Dataset,
    actions: &[Action],
    rule: &AdaptationRule,
    (id, service): (&str, &str),
    evaluate_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    (evidence, baseline): (&Value, Option<f64>),
) -> Option<Action> {
    let (demand, per_replica) = (rule.then.demand.as_deref()?, rule.then.per_replica?);
    let plan = crate::scale::plan(ds, service, demand, per_replica, now)?;
    let change = json!({
        "kind": "apply",
        "action": "scale",
        "target": service,
        "min_replicas": plan.min_replicas,
        "max_replicas": plan.max_replicas,
        "only_raise": plan.only_raise.is_some(),
    });
    let same = |a: &&Action| {
        a.origin == id
            && a.service.as_deref() == Some(service)
            && a.outcome.is_none()
            && matches!(a.status, ActionStatus::Proposed | ActionStatus::Applied)
    };
    if let Some(last) = actions.iter().filter(same).max_by_key(|a| a.created_at)
        && let Some(c) = &last.change
        && c.get("min_replicas") == change.get("min_replicas")
        && c.get("max_replicas") == change.get("max_replicas")
    {
        return None;
    }
    let mut ev = evidence.clone();
    if let Some(obj) = ev.as_object_mut() {
        obj.insert("scale".into(), json!(plan));
    }
    Some(Action {
        id: format!("{id}:{service}:{}", now.format("%Y%m%dT%H%M%SZ")),
        created_at: now,
        service: Some(service.to_string()),
        origin: id.to_string(),
        summary: format!(
            "{service}: HPA replicas {}..{} for a forecast peak of {:.1} {demand} ({} per replica){}",
            plan.min_replicas,
            plan.max_replicas,
            plan.forecast.iter().map(|f| f.expected).fold(0.0, f64::max),
            per_replica,
            plan.only_raise
                .as_deref()
                .map(|w| format!("; raises only: {w}"))
                .unwrap_or_default()
        ),
        status: ActionStatus::Proposed,
        metric: evidence
            .get("metric")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        baseline,
        evaluate_at,
        outcome: None,
        evidence: ev,
        change: Some(change),
    })
}

/// The window an action's baseline and effect are measured over.
fn action_window(a: &Action) -> Duration {
    a.evidence
        .get("window_seconds")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_WINDOW, Duration::from_secs)
}

/// When an action's effect can be measured: the end of an after-window as
/// long as the baseline's, starting when the action was taken (and no
/// earlier than its `evaluate_at`). Before then it is too early to measure.
pub fn measure_at(a: &Action) -> Option<DateTime<Utc>> {
    let at = a.evaluate_at?;
    Some(at.max(a.created_at + action_window(a).to_chrono()))
}

/// Re-evaluates an action's metric (same scope and window as its evidence)
/// over the after-window `(measure_at − window, measure_at]`, disjoint from
/// the baseline's `(created − window, created]`, and says whether it moved
/// the way the rule wanted.
///
/// An accepted pipeline insight is measured over the window ending now: it
/// may have waited past `measure_at` for runs (see [`crate::pipeline`]).
fn measure(ds: &Dataset, a: &Action, now: DateTime<Utc>) -> Value {
    let end = if crate::pipeline::is_pipeline(a) {
        now
    } else {
        measure_at(a).unwrap_or(now).min(now)
    };
    let ev = &a.evidence;
    let metric = ev
        .get("metric")
        .and_then(Value::as_str)
        .unwrap_or(&a.metric)
        .to_string();
    let window = action_window(a);
    let scope: Scope = ev
        .get("scope")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_else(|| Scope {
            service: a.service.clone(),
            ..Scope::default()
        });
    let cmp = ev.get("cmp").and_then(Value::as_str).unwrap_or(">");
    let cmp = Comparator::ALL
        .into_iter()
        .find(|c| c.symbol() == cmp)
        .unwrap_or(Comparator::Gt);
    let threshold = ev.get("threshold").and_then(Value::as_f64);
    let lower = wants_lower(cmp, &metric);
    let filter: BTreeMap<String, bearing_intent::FilterValue> = ev
        .get("filter")
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .unwrap_or_default();
    let v = evaluate(ds, &metric, &scope, &filter, window, end);
    let (delta, relative, verdict) = match (a.baseline, v.value) {
        (Some(b), Some(after)) => {
            let d = after - b;
            let rel = (b != 0.0).then(|| d / b.abs());
            let verdict = if d.abs() <= 1e-12 * b.abs().max(1.0) {
                "unchanged"
            } else if (d < 0.0) == lower {
                "improved"
            } else {
                "worsened"
            };
            (Some(d), rel, verdict)
        }
        _ => (None, None, "unknown"),
    };
    let mut out = json!({
        "measured_at": now,
        "metric": metric,
        "window_seconds": window.as_secs(),
        "before_window": [a.created_at - window.to_chrono(), a.created_at],
        "after_window": [end - window.to_chrono(), end],
        "baseline": a.baseline,
        "value": v.value,
        "change": delta,
        "relative_change": relative,
        "intended": if lower { "decrease" } else { "increase" },
        "verdict": verdict,
        "moved_as_intended": verdict == "improved",
        "condition_still_holds": match (v.value, threshold) {
            (Some(x), Some(t)) => Some(cmp.holds(x, t)),
            _ => None,
        },
        "samples": v.samples,
        "too_few_samples": v.too_few_samples,
        "records": v.records.iter().take(EVIDENCE_RECORDS).collect::<Vec<_>>(),
    });
    if let (Some(effect), Some(obj)) = (
        crate::rightsize::effect(ds, a, window, end)
            .or_else(|| crate::pipeline::effect(ds, a, window, end)),
        out.as_object_mut(),
    ) {
        let key = a
            .change
            .as_ref()
            .and_then(|c| c.get("action"))
            .and_then(Value::as_str)
            .unwrap_or("effect");
        obj.insert(key.into(), effect);
    }
    out
}

fn derive_plans(
    intent: &Intent,
    stored: &[DeliveryPlan],
    holding: &BTreeMap<&str, Vec<(String, &PlanChange)>>,
    now: DateTime<Utc>,
) -> Vec<DeliveryPlan> {
    let mut out = Vec::new();
    for svc in &intent.services {
        let base = svc
            .delivery
            .as_ref()
            .map(|d| d.strategy)
            .unwrap_or_default();
        let mut strategy = base;
        let mut freeze = false;
        let mut gates: BTreeSet<String> = BTreeSet::new();
        let mut reasons: Vec<String> = Vec::new();
        for (rule, change) in holding.get(svc.id.as_str()).into_iter().flatten() {
            if let Some(s) = change.strategy {
                strategy = strategy.max(s);
            }
            if change.freeze == Some(true) {
                freeze = true;
            }
            gates.extend(change.extra_gates.iter().cloned());
            reasons.push(format!("rule {rule}: {}", describe(change)));
        }
        if reasons.is_empty() {
            reasons.push(format!("intent default: strategy {}", base.name()));
        }
        let plan = DeliveryPlan {
            service: svc.id.clone(),
            strategy: strategy.name().to_string(),
            freeze,
            extra_gates: gates.into_iter().collect(),
            reasons,
            updated_at: now,
        };
        let same = stored
            .iter()
            .find(|p| p.service == svc.id)
            .is_some_and(|p| {
                let mut g = p.extra_gates.clone();
                g.sort();
                parse_strategy(&p.strategy) == Some(strategy)
                    && p.freeze == plan.freeze
                    && g == plan.extra_gates
                    && p.reasons == plan.reasons
            });
        if !same {
            out.push(plan);
        }
    }
    out
}

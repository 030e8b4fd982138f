//! Native evaluation of the built-in guardrail kinds.
//!
//! The Rego modules in `policies/` are the definition of every built-in kind:
//! they are what `bearing policy show` prints, what the OPA data API and
//! `bearing policy test` evaluate, and the reference the engine falls back
//! to. Evaluating 25 Rego modules costs hundreds of microseconds even on
//! regorus' bytecode VM, so the kinds that read the change itself, its
//! delivery plan and live outcomes (and scan and cost reports) also have this
//! native form, which produces exactly the same findings: the test
//! `native_matches_rego` compares both on generated changes and on the real
//! reports in the fixtures. Whenever an input is outside what the native form
//! handles (a parameter or field of an unexpected type), it answers `None`
//! and the engine evaluates the Rego module instead.

use bearing_intent::GuardrailKind;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Map, Value, json};

use crate::decision::Effect;
use crate::envelope::Envelope;

/// A finding as the Rego modules return it, with its effect.
pub(crate) type Found = (Value, Effect);

/// What a native rule reads besides its parameters.
pub(crate) struct View<'a> {
    pub env: &'a Envelope,
    /// `context.plans[service]`: the delivery plan (or the intent's default).
    pub plan: Option<&'a Value>,
    /// `context.outcomes.services[service]`.
    pub outcome: Option<&'a Value>,
    pub risk: Option<f64>,
    pub now: DateTime<Utc>,
    /// Normalised scan reports (`normalize::scan`), when the change has any.
    pub scans: &'a [Value],
    /// Normalised Infracost totals (`normalize::cost`), when the change has any.
    pub cost: &'a [Value],
}

/// A built-in guardrail with its parameters read into native form.
#[derive(Debug, Clone)]
pub(crate) enum Native {
    DeployStrategy,
    ErrorBudget {
        exempt: Vec<String>,
        min_remaining: f64,
        on_missing_unknown: bool,
    },
    RequiredChecks {
        checks: Vec<String>,
        scans: bool,
        passing: Vec<String>,
    },
    ChangeRisk {
        deny_above: Num,
        warn_above: Num,
        unless_canary: bool,
        on_missing_unknown: bool,
    },
    ChangeWindow {
        timezone: chrono_tz::Tz,
        name: String,
        windows: Vec<Window>,
        blackouts: Vec<Blackout>,
        exempt: Vec<String>,
    },
    Vulnerabilities {
        block: Vec<String>,
        fixable_only: bool,
        max_age_days: Option<f64>,
        sla: bool,
    },
    CostBudget {
        max_increase: Option<Num>,
        max_percent: Option<Num>,
        monthly_budget: Option<Num>,
        budgets: Map<String, Value>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Window {
    days: Vec<String>,
    from: String,
    to: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Blackout {
    from: String,
    to: String,
    reason: Option<String>,
}

/// A number as regorus holds it: `sprintf("%.2f")` prints an integer without
/// decimals, and arithmetic turns whole results into integers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn json(v: &Value) -> Option<Num> {
        let n = v.as_number()?;
        if n.is_f64() {
            n.as_f64().map(Num::Float)
        } else {
            n.as_i64().map(Num::Int)
        }
    }

    /// A float result of `+` or `*`: whole numbers become integers.
    fn normalize(x: f64) -> Num {
        if x.is_finite() && x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_991.0 {
            Num::Int(x as i64)
        } else {
            Num::Float(x)
        }
    }

    fn add(self, o: Num) -> Num {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) if a.checked_add(b).is_some() => Num::Int(a + b),
            _ => Num::normalize(self.f() + o.f()),
        }
    }

    fn mul(self, o: Num) -> Num {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) if a.checked_mul(b).is_some() => Num::Int(a * b),
            _ => Num::normalize(self.f() * o.f()),
        }
    }

    /// `/`: exact between integers that divide, a float otherwise.
    fn div(self, o: Num) -> Num {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) if b != 0 && a % b == 0 => Num::Int(a / b),
            _ => Num::Float(self.f() / o.f()),
        }
    }

    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// `sprintf("%.<d>f", [n])` as regorus prints it (rounding half away from zero).
    fn fixed(self, d: usize) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => {
                let factor = 10f64.powi(d as i32);
                format!("{:.*}", d, (f * factor).round() / factor)
            }
        }
    }
}

fn opt_num(v: &Value) -> Option<Option<Num>> {
    match v {
        Value::Null => Some(None),
        other => Num::json(other).map(Some),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(String::from))
        .collect()
}

fn opt_number(v: &Value) -> Option<Option<f64>> {
    match v {
        Value::Null => Some(None),
        Value::Number(n) => n.as_f64().map(Some),
        _ => None,
    }
}

impl Native {
    /// The native form of a built-in guardrail, if its kind has one and its
    /// (rendered) parameters have the types the native form expects.
    pub fn new(kind: GuardrailKind, p: &Map<String, Value>) -> Option<Native> {
        let get = |k: &str| p.get(k).unwrap_or(&Value::Null);
        let on_missing = |k: &str| match get(k).as_str() {
            Some("unknown") => Some(true),
            Some(_) => Some(false),
            None => None,
        };
        Some(match kind {
            GuardrailKind::DeployStrategy => Native::DeployStrategy,
            GuardrailKind::ErrorBudget => Native::ErrorBudget {
                exempt: strings(get("exempt_labels"))?,
                min_remaining: get("min_remaining").as_f64()?,
                on_missing_unknown: on_missing("on_missing")?,
            },
            GuardrailKind::RequiredChecks => Native::RequiredChecks {
                checks: strings(get("checks"))?,
                scans: get("scans").as_bool()?,
                passing: strings(get("passing"))?,
            },
            GuardrailKind::ChangeRisk => Native::ChangeRisk {
                deny_above: Num::json(get("deny_above"))?,
                warn_above: Num::json(get("warn_above"))?,
                unless_canary: get("unless_canary").as_bool()?,
                on_missing_unknown: on_missing("on_missing")?,
            },
            GuardrailKind::ChangeWindow => {
                let name = get("timezone").as_str()?.to_string();
                let field = |w: &Value, k: &str, default: &str| match w.get(k) {
                    None => Some(default.to_string()),
                    Some(v) => v.as_str().map(String::from),
                };
                let windows = get("windows")
                    .as_array()?
                    .iter()
                    .map(|w| {
                        Some(Window {
                            days: match w.get("days") {
                                None => ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                                    .map(String::from)
                                    .to_vec(),
                                Some(d) => strings(d)?,
                            },
                            from: field(w, "from", "00:00")?,
                            to: field(w, "to", "24:00")?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                let blackouts = get("blackouts")
                    .as_array()?
                    .iter()
                    .map(|b| {
                        Some(Blackout {
                            from: b.get("from")?.as_str()?.to_string(),
                            to: b.get("to")?.as_str()?.to_string(),
                            reason: match b.get("reason") {
                                Some(Value::String(s)) => Some(s.clone()),
                                None | Some(Value::Null) => None,
                                Some(_) => return None,
                            },
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Native::ChangeWindow {
                    timezone: name.parse().ok()?,
                    name,
                    windows,
                    blackouts,
                    exempt: strings(get("exempt_labels"))?,
                }
            }
            GuardrailKind::Vulnerabilities => Native::Vulnerabilities {
                block: strings(get("block"))?,
                fixable_only: get("fixable_only").as_bool()?,
                max_age_days: opt_number(get("max_age_days"))?,
                sla: get("sla").as_bool()?,
            },
            GuardrailKind::CostBudget => Native::CostBudget {
                max_increase: opt_num(get("max_monthly_increase"))?,
                max_percent: opt_num(get("max_increase_percent"))?,
                monthly_budget: opt_num(get("monthly_budget"))?,
                budgets: get("budgets").as_object()?.clone(),
            },
            _ => return None,
        })
    }

    /// The findings of this guardrail for a change it applies to, or `None`
    /// when an input is outside what the native form handles.
    pub fn eval(&self, v: &View<'_>) -> Option<Vec<Found>> {
        let mut out = Vec::new();
        match self {
            Native::DeployStrategy => deploy_strategy(v, &mut out)?,
            Native::ErrorBudget {
                exempt,
                min_remaining,
                on_missing_unknown,
            } => error_budget(v, exempt, *min_remaining, *on_missing_unknown, &mut out)?,
            Native::RequiredChecks {
                checks,
                scans,
                passing,
            } => required_checks(v, checks, *scans, passing, &mut out)?,
            Native::ChangeRisk {
                deny_above,
                warn_above,
                unless_canary,
                on_missing_unknown,
            } => {
                let mitigated = *unless_canary && v.env.strategy.as_deref() == Some("canary");
                match v.risk {
                    Some(risk) => {
                        let shown = Num::Float(risk).fixed(2);
                        let deny = risk > deny_above.f() && !mitigated;
                        if deny {
                            out.push((
                                change_finding("risk", &format!("change risk {shown} is above {}", deny_above.fixed(2)), "high", "split the change, deploy it as a canary, or add tests to the risky files"),
                                Effect::Deny,
                            ));
                        }
                        if risk > warn_above.f() && !deny {
                            out.push((
                                change_finding(
                                    "risk",
                                    &format!(
                                        "change risk {shown} is above {}",
                                        warn_above.fixed(2)
                                    ),
                                    "medium",
                                    "watch the rollout; consider a canary",
                                ),
                                Effect::Warn,
                            ));
                        }
                    }
                    None if *on_missing_unknown => out.push((
                        change_finding(
                            "risk_unknown",
                            "the change risk is not known",
                            "low",
                            "train the model with `bearing risk train` or pass a risk score",
                        ),
                        Effect::Unknown,
                    )),
                    None => {}
                }
            }
            Native::ChangeWindow {
                timezone,
                name,
                windows,
                blackouts,
                exempt,
            } => change_window(v, timezone, name, windows, blackouts, exempt, &mut out),
            Native::Vulnerabilities {
                block,
                fixable_only,
                max_age_days,
                sla,
            } => vulnerabilities(v, block, *fixable_only, *max_age_days, *sla, &mut out)?,
            Native::CostBudget {
                max_increase,
                max_percent,
                monthly_budget,
                budgets,
            } => cost_budget(
                v,
                *max_increase,
                *max_percent,
                *monthly_budget,
                budgets,
                &mut out,
            )?,
        }
        Some(out)
    }
}

/// `lib.change_finding`.
fn change_finding(rule: &str, msg: &str, severity: &str, remediation: &str) -> Value {
    json!({"rule": rule, "msg": msg, "severity": severity, "remediation": remediation})
}

/// `lib.finding`.
fn finding(
    rule: &str,
    msg: &str,
    severity: &str,
    remediation: &str,
    kind: &str,
    index: usize,
    pointer: &str,
) -> Value {
    json!({
        "rule": rule, "msg": msg, "severity": severity, "remediation": remediation,
        "at": {"kind": kind, "index": index, "pointer": pointer},
    })
}

fn has_label(env: &Envelope, labels: &[String]) -> bool {
    env.labels.iter().any(|l| labels.contains(l))
}

/// A field of the service's outcomes (`lib.service_outcomes.<key>`).
fn outcome<'a>(v: &'a View<'a>, key: &str) -> Option<&'a Value> {
    v.outcome?.get(key)
}

fn deploy_strategy(v: &View<'_>, out: &mut Vec<Found>) -> Option<()> {
    let rank = |s: &str| match s {
        "direct" => Some(0),
        "blue-green" => Some(1),
        "canary" => Some(2),
        _ => None,
    };
    let required = match v.plan.and_then(|p| p.get("strategy")) {
        None => "direct",
        Some(s) => s.as_str()?,
    };
    let declared = v.env.strategy.as_deref().unwrap_or("direct");
    if let (Some(d), Some(r)) = (rank(declared), rank(required))
        && d < r
    {
        let note = if v.env.strategy.is_some() {
            ""
        } else {
            " (no strategy declared)"
        };
        let msg = format!(
            "the delivery plan of {} requires `{required}`; this change deploys `{declared}`{note}",
            v.env.service
        );
        let fix = format!("deploy with `--strategy {required}` (a {required} rollout)");
        out.push((change_finding("strategy", &msg, "high", &fix), Effect::Deny));
    }
    if let Some(s) = &v.env.strategy
        && rank(s).is_none()
    {
        let msg =
            format!("unknown deployment strategy `{s}` (expected direct, blue-green or canary)");
        out.push((
            change_finding(
                "strategy_unknown",
                &msg,
                "medium",
                "declare direct, blue-green or canary",
            ),
            Effect::Deny,
        ));
    }
    Some(())
}

fn error_budget(
    v: &View<'_>,
    exempt_labels: &[String],
    min_remaining: f64,
    on_missing_unknown: bool,
    out: &mut Vec<Found>,
) -> Option<()> {
    let remaining = outcome(v, "error_budget_remaining").and_then(Num::json);
    let exempt = has_label(v.env, exempt_labels);
    let mut reasons = Vec::new();
    if let Some(r) = remaining
        && r.f() <= min_remaining
    {
        reasons.push(format!(
            "the error budget of {} is spent ({}% remaining)",
            v.env.service,
            r.mul(Num::Int(100)).fixed(1)
        ));
    }
    if v.plan.and_then(|p| p.get("freeze")) == Some(&Value::Bool(true)) {
        let why = match v.plan.and_then(|p| p.get("reasons")) {
            None => String::new(),
            Some(r) => {
                let r = strings(r)?;
                if r.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.join(", "))
                }
            }
        };
        reasons.push(format!(
            "the delivery plan of {} says freeze{why}",
            v.env.service
        ));
    }
    reasons.sort();
    reasons.dedup();
    for r in &reasons {
        out.push(if exempt {
            (
                change_finding(
                    "freeze_exempt",
                    &format!("deploying during a freeze as an exempt change: {r}"),
                    "medium",
                    "watch the rollout closely; the service has no error budget left",
                ),
                Effect::Warn,
            )
        } else {
            (
                change_finding(
                    "freeze",
                    &format!("deployment frozen: {r}"),
                    "high",
                    &format!(
                        "only changes labelled {} may deploy now; restore the error budget first",
                        exempt_labels.join(" or ")
                    ),
                ),
                Effect::Deny,
            )
        });
    }
    if on_missing_unknown && remaining.is_none() && !exempt {
        out.push((
            change_finding(
                "error_budget_unknown",
                &format!("the error budget of {} is not known", v.env.service),
                "medium",
                "ingest SLO metrics or pass `--outcomes`",
            ),
            Effect::Unknown,
        ));
    }
    Some(())
}

fn required_checks(
    v: &View<'_>,
    checks: &[String],
    scans: bool,
    passing: &[String],
    out: &mut Vec<Found>,
) -> Option<()> {
    for name in checks {
        match v.env.checks.get(name) {
            None => out.push((
                change_finding(
                    "check_missing",
                    &format!("required check `{name}` is missing"),
                    "high",
                    &format!("run `{name}` and pass `--check {name}=passed`"),
                ),
                Effect::Deny,
            )),
            Some(status) if !passing.contains(&status.to_lowercase()) => out.push((
                change_finding(
                    "check_failed",
                    &format!("required check `{name}` is `{status}`"),
                    "high",
                    &format!("fix `{name}` before deploying"),
                ),
                Effect::Deny,
            )),
            Some(_) => {}
        }
    }
    if scans {
        if v.scans.is_empty() {
            out.push((
                change_finding(
                    "scan_missing",
                    "no security scan is attached",
                    "high",
                    "attach a Trivy, Grype or SARIF report with `--scan`",
                ),
                Effect::Deny,
            ));
        }
        for (i, s) in v.scans.iter().enumerate() {
            if s.get("ok")?.as_bool()? {
                continue;
            }
            let file = s.get("file")?.as_str()?;
            out.push((
                finding(
                    "scan_failed",
                    &format!("the scan {file} did not complete"),
                    "high",
                    "rerun the scanner until it completes",
                    "scans",
                    i,
                    "",
                ),
                Effect::Deny,
            ));
        }
    }
    Some(())
}

#[allow(clippy::too_many_arguments)]
fn change_window(
    v: &View<'_>,
    timezone: &chrono_tz::Tz,
    name: &str,
    windows: &[Window],
    blackouts: &[Blackout],
    exempt_labels: &[String],
    out: &mut Vec<Found>,
) {
    let local = v.now.with_timezone(timezone);
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [local.weekday().num_days_from_monday() as usize];
    let time = format!("{:02}:{:02}", local.hour(), local.minute());
    let date = local.format("%Y-%m-%d").to_string();
    let mut reasons = Vec::new();
    let in_window = |w: &Window| {
        w.days.iter().any(|d| d == weekday) && time.as_str() >= w.from.as_str() && time < w.to
    };
    if !windows.is_empty() && !windows.iter().any(in_window) {
        reasons.push(format!(
            "{weekday} {time} {name} is outside the change windows"
        ));
    }
    for b in blackouts {
        if date >= b.from && date <= b.to {
            let why = b
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            reasons.push(format!(
                "{date} is in the blackout {} to {}{why}",
                b.from, b.to
            ));
        }
    }
    reasons.sort();
    reasons.dedup();
    let exempt = has_label(v.env, exempt_labels);
    for r in reasons {
        out.push(if exempt {
            (
                change_finding(
                    "change_window_exempt",
                    &format!("exempt change: {r}"),
                    "low",
                    "",
                ),
                Effect::Warn,
            )
        } else {
            (
                change_finding(
                    "change_window",
                    &r,
                    "medium",
                    "deploy inside a change window, or label the change as an exempt hotfix",
                ),
                Effect::Deny,
            )
        });
    }
}

fn vulnerabilities(
    v: &View<'_>,
    block: &[String],
    fixable_only: bool,
    max_age_days: Option<f64>,
    sla: bool,
    out: &mut Vec<Found>,
) -> Option<()> {
    for (i, s) in v.scans.iter().enumerate() {
        for f in s.get("findings")?.as_array()? {
            let severity = f.get("severity")?.as_str()?;
            if !block.iter().any(|b| b == severity) {
                continue;
            }
            if fixable_only && !f.get("fixable")?.as_bool()? {
                continue;
            }
            if let Some(max) = max_age_days
                && let Some(published) = f.get("published").and_then(Value::as_str)
            {
                let t = DateTime::parse_from_rfc3339(published).ok()?;
                let ns = t.timestamp_nanos_opt()?;
                let now = v.now.timestamp_nanos_opt()?;
                // Rego divides integers exactly; the age is compared as a real number.
                let age = (now - ns) as f64 / 86_400e9;
                if age <= max {
                    continue;
                }
            }
            let id = f.get("id")?.as_str()?;
            let pointer = f.get("pointer")?.as_str()?;
            let fixed = f.get("fixed_version")?.as_str()?;
            let (msg, remedy) = match f.get("package")? {
                Value::String(package) => {
                    let installed = match f.get("installed") {
                        None => "",
                        Some(i) => i.as_str()?,
                    };
                    let remedy = if fixed.is_empty() {
                        None
                    } else {
                        Some(format!("upgrade {package} to {fixed}"))
                    };
                    (
                        format!("{} {id} in {package} {installed}", severity.to_uppercase()),
                        remedy,
                    )
                }
                Value::Null => {
                    let target = f.get("target")?.as_str()?;
                    (
                        format!("{} {id} at {target}", severity.to_uppercase()),
                        None,
                    )
                }
                _ => return None,
            };
            let remedy = remedy.unwrap_or_else(|| {
                "fix or suppress the finding, or add a waiver with a ticket".into()
            });
            out.push((
                finding(
                    "vulnerability",
                    &msg,
                    severity,
                    &remedy,
                    "scans",
                    i,
                    pointer,
                ),
                Effect::Deny,
            ));
        }
    }
    if sla {
        let past = outcome(v, "findings_past_sla");
        let mut seen = Vec::new();
        for sev in block {
            if seen.contains(&sev) {
                continue;
            }
            seen.push(sev);
            let n = match past.and_then(|p| p.get(sev)) {
                None => continue,
                Some(n) => n.as_i64()?,
            };
            if n > 0 {
                out.push((
                    change_finding(
                        "past_sla",
                        &format!(
                            "{n} {sev} finding(s) of {} are past their fix SLA",
                            v.env.service
                        ),
                        sev,
                        "fix the overdue findings first (`bearing explain security.findings_past_sla`)",
                    ),
                    Effect::Deny,
                ));
            }
        }
    }
    Some(())
}

fn cost_budget(
    v: &View<'_>,
    max_increase: Option<Num>,
    max_percent: Option<Num>,
    monthly_budget: Option<Num>,
    budgets: &Map<String, Value>,
    out: &mut Vec<Found>,
) -> Option<()> {
    if v.cost.is_empty() {
        return Some(());
    }
    let budget = match monthly_budget {
        Some(b) => Some(b),
        None => match budgets.get(&v.env.service) {
            None | Some(Value::Null) => None,
            Some(b) => Some(Num::json(b)?),
        },
    };
    let number = |x: Option<&Value>| x.and_then(Num::json);
    let live =
        number(outcome(v, "forecast_monthly_cost")).or_else(|| number(outcome(v, "monthly_cost")));
    for (i, c) in v.cost.iter().enumerate() {
        let opt = |k: &str| opt_num(c.get(k).unwrap_or(&Value::Null));
        let total = opt("total_monthly_cost")?;
        let past = opt("past_total_monthly_cost")?;
        let diff = opt("diff_monthly_cost")?;
        let currency = c.get("currency")?.as_str()?;
        for u in c.get("unknown")?.as_array()? {
            out.push((
                finding(
                    "cost_unknown",
                    u.get("reason")?.as_str()?,
                    "medium",
                    "fix the Infracost run so every project is priced",
                    "cost",
                    i,
                    u.get("pointer")?.as_str()?,
                ),
                Effect::Unknown,
            ));
        }
        if let Some(max) = max_increase {
            match diff {
                None => out.push((
                    finding(
                        "cost_increase_unknown",
                        "the monthly cost increase is unknown (no past estimate to compare with)",
                        "medium",
                        "run `infracost diff` against the base branch",
                        "cost",
                        i,
                        "/diffTotalMonthlyCost",
                    ),
                    Effect::Unknown,
                )),
                Some(d) if d.f() > max.f() => out.push((
                    finding(
                        "cost_increase",
                        &format!(
                            "monthly cost rises by {} {currency}, more than the allowed {} {currency}",
                            d.fixed(2),
                            max.fixed(2)
                        ),
                        "high",
                        "reduce the change's cost or raise `max_monthly_increase` with the budget owner",
                        "cost",
                        i,
                        "/diffTotalMonthlyCost",
                    ),
                    Effect::Deny,
                )),
                Some(_) => {}
            }
        }
        if let (Some(max), Some(d), Some(p)) = (max_percent, diff, past)
            && p.f() > 0.0
        {
            let pct = d.mul(Num::Int(100)).div(p);
            if pct.f() > max.f() {
                out.push((
                    finding(
                        "cost_increase_percent",
                        &format!(
                            "monthly cost rises by {}%, more than the allowed {}%",
                            pct.fixed(1),
                            max.fixed(1)
                        ),
                        "high",
                        "reduce the change's cost or raise `max_increase_percent`",
                        "cost",
                        i,
                        "/diffTotalMonthlyCost",
                    ),
                    Effect::Deny,
                ));
            }
        }
        let projected = match diff {
            Some(d) => live.or(past).map(|base| base.add(d)),
            None => total,
        };
        if let (Some(p), Some(b)) = (projected, budget)
            && p.f() > b.f()
        {
            out.push((
                finding(
                    "over_budget",
                    &format!(
                        "projected monthly cost {} {currency} exceeds the budget of {} {currency}",
                        p.fixed(2),
                        b.fixed(2)
                    ),
                    "high",
                    "cut cost elsewhere or agree a higher `monthly_budget` for the service",
                    "cost",
                    i,
                    "/totalMonthlyCost",
                ),
                Effect::Deny,
            ));
        }
    }
    if let Some(s) = number(outcome(v, "spend_vs_budget"))
        && s.f() > 1.0
    {
        out.push((
            change_finding(
                "spend_over_budget",
                &format!(
                    "the service already spends {}% of its budget",
                    s.mul(Num::Int(100)).fixed(0)
                ),
                "medium",
                "review the service's spend before adding cost",
            ),
            Effect::Warn,
        ));
    }
    Some(())
}

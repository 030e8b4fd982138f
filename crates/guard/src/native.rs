//! Native evaluation of the built-in guardrail kinds.
//!
//! The Rego modules in `policies/` are the definition of every built-in kind:
//! they are what `bearing policy show` prints, what the OPA data API and
//! `bearing policy test` evaluate, and the reference the engine falls back
//! to. Evaluating 25 Rego modules costs hundreds of microseconds even on
//! regorus' bytecode VM, so every built-in kind also has this native form,
//! which produces exactly the same findings: the tests `native_matches_rego*`
//! compare both on generated changes, plans and manifests and on the real
//! reports, Terraform plans and Kubernetes manifests in the fixtures. Whenever an input is outside what the native form
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
    /// `context.risk_reasons`: the score's top factors.
    pub risk_reasons: Option<&'a str>,
    /// `context.risk_advisory`: why the risk may only warn.
    pub risk_advisory: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// Normalised scan reports (`normalize::scan`), when the change has any.
    pub scans: &'a [Value],
    /// Normalised Infracost totals (`normalize::cost`), when the change has any.
    pub cost: &'a [Value],
    /// Normalised Terraform plans (`normalize::terraform`), when the change
    /// has any and an `iam_least_privilege` rail applies.
    pub plans: &'a [Value],
    /// Manifests as `{"file", "documents"}`, when the change has any and a
    /// `k8s_baseline` rail applies.
    pub manifests: &'a [Value],
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
        deny_kev: bool,
        deny_epss: Option<Num>,
    },
    CostBudget {
        max_increase: Option<Num>,
        max_percent: Option<Num>,
        monthly_budget: Option<Num>,
        budgets: Map<String, Value>,
    },
    IamLeastPrivilege(Box<Iam>),
    K8sBaseline(K8s),
}

/// The parameters of `k8s_baseline`.
#[derive(Debug, Clone)]
pub(crate) struct K8s {
    privileged: bool,
    run_as_root: bool,
    resource_limits: bool,
    latest_tag: bool,
    host_path: bool,
    host_namespaces: bool,
}

/// The parameters of `iam_least_privilege`.
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    wildcard_actions: bool,
    wildcard_resources: bool,
    admin_policies: Vec<String>,
    allowed_actions: Vec<String>,
    public_s3: bool,
    unencrypted_s3: bool,
    open_security_groups: bool,
    /// Scalars only (compared as Rego compares them, see [`rego_eq`]).
    public_ports: Vec<Value>,
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

/// Weekday (`mon`…), `HH:MM` and `YYYY-MM-DD` of `now` in a time zone, as
/// the `change_window` module reads them from `input.context.clocks`.
pub(crate) fn clock(now: DateTime<Utc>, tz: &chrono_tz::Tz) -> (&'static str, String, String) {
    let local = now.with_timezone(tz);
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [local.weekday().num_days_from_monday() as usize];
    (
        weekday,
        format!("{:02}:{:02}", local.hour(), local.minute()),
        local.format("%Y-%m-%d").to_string(),
    )
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
                max_age_days: opt_num(get("max_age_days"))?.map(Num::f),
                sla: get("sla").as_bool()?,
                deny_kev: match get("deny").get("kev") {
                    None => false,
                    Some(b) => b.as_bool()?,
                },
                deny_epss: match get("deny").get("epss_at_least") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(Num::json(n)?),
                },
            },
            GuardrailKind::CostBudget => Native::CostBudget {
                max_increase: opt_num(get("max_monthly_increase"))?,
                max_percent: opt_num(get("max_increase_percent"))?,
                monthly_budget: opt_num(get("monthly_budget"))?,
                budgets: get("budgets").as_object()?.clone(),
            },
            GuardrailKind::IamLeastPrivilege => Native::IamLeastPrivilege(Box::new(Iam {
                wildcard_actions: get("wildcard_actions").as_bool()?,
                wildcard_resources: get("wildcard_resources").as_bool()?,
                admin_policies: strings(get("admin_policies"))?,
                allowed_actions: strings(get("allowed_actions"))?,
                public_s3: get("public_s3").as_bool()?,
                unencrypted_s3: get("unencrypted_s3").as_bool()?,
                open_security_groups: get("open_security_groups").as_bool()?,
                public_ports: get("public_ports")
                    .as_array()?
                    .iter()
                    .map(|p| (!p.is_array() && !p.is_object()).then(|| p.clone()))
                    .collect::<Option<Vec<_>>>()?,
            })),
            GuardrailKind::K8sBaseline => Native::K8sBaseline(K8s {
                privileged: get("privileged").as_bool()?,
                run_as_root: get("run_as_root").as_bool()?,
                resource_limits: get("resource_limits").as_bool()?,
                latest_tag: get("latest_tag").as_bool()?,
                host_path: get("host_path").as_bool()?,
                host_namespaces: get("host_namespaces").as_bool()?,
            }),
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
                        let why = v
                            .risk_reasons
                            .map_or_else(String::new, |r| format!(" ({r})"));
                        let above = risk > deny_above.f() && !mitigated;
                        if above && v.risk_advisory.is_none() {
                            out.push((
                                change_finding("risk", &format!("change risk {shown} is above {}{why}", deny_above.fixed(2)), "high", "split the change, deploy it as a canary, or add tests to the risky files"),
                                Effect::Deny,
                            ));
                        }
                        if let (true, Some(advisory)) = (above, v.risk_advisory) {
                            out.push((
                                change_finding("risk", &format!("change risk {shown} is above {}{why}; advisory: {advisory}", deny_above.fixed(2)), "high", "split the change, deploy it as a canary, or add tests to the risky files"),
                                Effect::Warn,
                            ));
                        }
                        if risk > warn_above.f() && !above {
                            out.push((
                                change_finding(
                                    "risk",
                                    &format!(
                                        "change risk {shown} is above {}{why}",
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
                deny_kev,
                deny_epss,
            } => {
                vulnerabilities(v, block, *fixable_only, *max_age_days, *sla, &mut out)?;
                threats(v, *deny_kev, *deny_epss, &mut out)?;
            }
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
            Native::IamLeastPrivilege(p) => iam_least_privilege(v, p, &mut out)?,
            Native::K8sBaseline(p) => k8s_baseline(v, p, &mut out)?,
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
    let (weekday, time, date) = clock(v.now, timezone);
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

/// `deny: {kev, epss_at_least}`: the service's open findings that are known
/// exploited or likely to be (`context.outcomes.services[service].threats`).
fn threats(
    v: &View<'_>,
    kev: bool,
    epss_at_least: Option<Num>,
    out: &mut Vec<Found>,
) -> Option<()> {
    if !kev && epss_at_least.is_none() {
        return Some(());
    }
    let Some(list) = outcome(v, "threats") else {
        return Some(());
    };
    for f in list.as_array()? {
        let text = |k: &str| f.get(k).and_then(Value::as_str);
        let (id, package, target, severity) = (
            text("id")?,
            text("package")?,
            text("target")?,
            f.get("severity")?,
        );
        let severity = severity.as_str()?;
        if kev && let Some(added) = text("kev_added") {
            out.push((
                change_finding(
                    "kev",
                    &format!(
                        "{id} in {package} ({target}) is known exploited: added to KEV on {added}"
                    ),
                    severity,
                    KEV_REMEDY,
                ),
                Effect::Deny,
            ));
        }
        if let Some(min) = epss_at_least
            && let Some(score) = f.get("epss").and_then(Num::json)
            && score.f() >= min.f()
        {
            out.push((
                change_finding(
                    "epss",
                    &format!(
                        "{id} in {package} ({target}) is likely to be exploited: EPSS {} (at least {})",
                        score.fixed(2),
                        min.fixed(2)
                    ),
                    severity,
                    EPSS_REMEDY,
                ),
                Effect::Deny,
            ));
        }
    }
    Some(())
}

const KEV_REMEDY: &str =
    "fix it first: CISA lists it as exploited in the wild (`bearing security priorities`)";
const EPSS_REMEDY: &str =
    "fix it soon: it is likely to be exploited within 30 days (`bearing security priorities`)";

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

// --- Helpers for the attachment kinds, with Rego's semantics (regorus' VM
// in non-strict mode: a builtin given an argument of the wrong type, such as
// `object.get` on a non-object, is undefined rather than an error). ---

/// `x` as a condition: defined and not `false`.
fn truthy(x: Option<&Value>) -> bool {
    !matches!(x, None | Some(Value::Bool(false)))
}

/// `==` between two values: numbers compare by value (`80 == 80.0`).
fn rego_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| rego_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| rego_eq(a, b)))
        }
        _ => a == b,
    }
}

/// `sprintf("%s")` / `sprintf("%v")` of a scalar as regorus prints it
/// (`None` for collections, which the native forms leave to Rego).
fn text(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => n.as_f64()?.to_string(),
        },
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// `object.get(x, key, default)`: undefined (`None`) when `x` is not an object.
fn object_get<'a>(x: &'a Value, key: &str, default: &'a Value) -> Option<&'a Value> {
    Some(x.as_object()?.get(key).unwrap_or(default))
}

/// `lib.as_list`: undefined for anything but an array, a string or null.
fn as_list(x: &Value) -> Option<&[Value]> {
    match x {
        Value::Array(a) => Some(a),
        Value::String(_) => Some(std::slice::from_ref(x)),
        Value::Null => Some(&[]),
        _ => None,
    }
}

/// The elements `some k, x in v` iterates for an array; nothing for a scalar
/// (and for undefined); `None` for an object (keys are not indexes, left to Rego).
fn elements(v: Option<&Value>) -> Option<&[Value]> {
    match v {
        Some(Value::Array(a)) => Some(a),
        Some(Value::Object(_)) => None,
        _ => Some(&[]),
    }
}

fn push_unique(out: &mut Vec<Found>, f: Value, effect: Effect) {
    if !out.iter().any(|(g, e)| *e == effect && *g == f) {
        out.push((f, effect));
    }
}

const EMPTY: &Value = &Value::Null;

fn empty_list() -> &'static Value {
    static EMPTY_LIST: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    EMPTY_LIST.get_or_init(|| Value::Array(Vec::new()))
}

// --- iam_least_privilege ---

const POLICY_TYPES: [&str; 4] = [
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
];

const ATTACHMENT_TYPES: [&str; 4] = [
    "aws_iam_role_policy_attachment",
    "aws_iam_user_policy_attachment",
    "aws_iam_group_policy_attachment",
    "aws_iam_policy_attachment",
];

/// `json.unmarshal`; a string that is not JSON is left to Rego.
fn unmarshal(s: &str) -> Option<Value> {
    serde_json::from_str(s).ok()
}

/// `statements(doc)`.
fn statements(doc: &Value) -> &[Value] {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a,
        Some(s @ Value::Object(_)) => std::slice::from_ref(s),
        _ => &[],
    }
}

/// `object.get(s, key, "Allow") == "Allow"`.
fn allows(s: &Value, key: &str) -> bool {
    s.as_object()
        .is_some_and(|o| o.get(key).is_none_or(|e| e.as_str() == Some("Allow")))
}

fn wildcard_action(a: &str) -> bool {
    a == "*" || a.ends_with(":*")
}

/// `regex.match("^[a-zA-Z0-9-]+:(Get|List|Describe|BatchGet)", a)`.
fn read_only(a: &str) -> bool {
    let Some((service, action)) = a.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && ["Get", "List", "Describe", "BatchGet"]
            .iter()
            .any(|p| action.starts_with(p))
}

fn tf(rule: &str, msg: &str, severity: &str, remediation: &str, pi: usize, ptr: &str) -> Value {
    finding(rule, msg, severity, remediation, "terraform_plans", pi, ptr)
}

fn iam_least_privilege(v: &View<'_>, p: &Iam, out: &mut Vec<Found>) -> Option<()> {
    let deny = Effect::Deny;
    let unknown = Effect::Unknown;
    for (pi, plan) in v.plans.iter().enumerate() {
        let resources = plan.get("resources")?.as_array()?;
        // `sse_resources` of this plan: the buckets named, and whether one is unknown.
        let mut sse_buckets = Vec::new();
        let mut sse_unknown = false;
        for r in resources {
            if r.get("type").and_then(Value::as_str)
                == Some("aws_s3_bucket_server_side_encryption_configuration")
            {
                if let Some(b) = r.get("values").and_then(|v| v.get("bucket")) {
                    sse_unknown |= b.as_str() == Some("(unknown)");
                    sse_buckets.push(b);
                }
                sse_unknown |=
                    r.get("unknown").and_then(|u| u.get("bucket")) == Some(&Value::Bool(true));
            }
        }
        for r in resources {
            let ty = r.get("type").and_then(Value::as_str).unwrap_or("");
            let values = r.get("values").unwrap_or(EMPTY);
            let val = |k: &str| values.get(k);
            let unknown_true =
                |k: &str| r.get("unknown").and_then(|u| u.get(k)) == Some(&Value::Bool(true));
            let ptr = r.get("pointer")?.as_str()?;
            let addr = text(r.get("address")?)?;

            // Policy documents: [pointer, document].
            let mut docs: Vec<(String, Value)> = Vec::new();
            let is_document = ty == "aws_iam_policy_document";
            if p.wildcard_actions || p.wildcard_resources {
                if POLICY_TYPES.contains(&ty)
                    && let Some(Value::String(s)) = val("policy")
                {
                    docs.push((format!("{ptr}/policy"), unmarshal(s)?));
                }
                if ty == "aws_iam_role" {
                    for (k, ip) in elements(val("inline_policy"))?.iter().enumerate() {
                        if let Some(Value::String(s)) = ip.get("policy")
                            && !s.is_empty()
                        {
                            docs.push((format!("{ptr}/inline_policy/{k}/policy"), unmarshal(s)?));
                        }
                    }
                }
                if is_document {
                    if let Some(Value::String(s)) = val("json") {
                        docs.push((format!("{ptr}/json"), unmarshal(s)?));
                    } else {
                        let mut st = Vec::new();
                        for s in elements(val("statement"))? {
                            let get = |k: &str, d: &Value| -> Option<Value> {
                                object_get(s, k, d).cloned()
                            };
                            st.push(json!({
                                "Effect": get("effect", &json!("Allow"))?,
                                "Action": get("actions", empty_list())?,
                                "Resource": get("resources", empty_list())?,
                            }));
                        }
                        docs.push((format!("{ptr}/statement"), json!({"Statement": st})));
                    }
                }
            }
            for (dptr, doc) in &docs {
                for s in statements(doc) {
                    if !allows(s, "Effect") {
                        continue;
                    }
                    let Some(actions) = object_get(s, "Action", empty_list()).and_then(as_list)
                    else {
                        continue;
                    };
                    let actions = actions
                        .iter()
                        .map(Value::as_str)
                        .collect::<Option<Vec<&str>>>()?;
                    let allowed = |a: &str| p.allowed_actions.iter().any(|x| x == a);
                    if p.wildcard_actions {
                        for a in &actions {
                            if wildcard_action(a) && !allowed(a) {
                                push_unique(
                                    out,
                                    tf(
                                        "iam_wildcard_action",
                                        &format!("{addr} allows `{a}` (wildcard action)"),
                                        "high",
                                        "list the exact actions the service needs instead of a wildcard",
                                        pi,
                                        dptr,
                                    ),
                                    deny,
                                );
                            }
                        }
                    }
                    let every_resource = object_get(s, "Resource", empty_list())
                        .and_then(as_list)
                        .is_some_and(|rs| rs.iter().any(|x| x.as_str() == Some("*")));
                    if p.wildcard_resources && every_resource {
                        for a in &actions {
                            if !wildcard_action(a) && !read_only(a) && !allowed(a) {
                                push_unique(
                                    out,
                                    tf(
                                        "iam_wildcard_resource",
                                        &format!("{addr} allows `{a}` on every resource (`*`)"),
                                        "high",
                                        "scope the statement's Resource to the ARNs it needs",
                                        pi,
                                        dptr,
                                    ),
                                    deny,
                                );
                            }
                        }
                    }
                }
            }

            if (POLICY_TYPES.contains(&ty) || is_document) && unknown_true("policy") {
                push_unique(
                    out,
                    tf(
                        "iam_policy_unknown",
                        &format!("the policy of {addr} is known only after apply"),
                        "medium",
                        "make the policy document computable at plan time (e.g. a data source), or waive",
                        pi,
                        ptr,
                    ),
                    unknown,
                );
            }
            if p.wildcard_resources && is_document && !matches!(val("json"), Some(Value::String(_)))
            {
                let su_all = r.get("unknown").and_then(|u| u.get("statement"));
                for (k, su) in elements(su_all)?.iter().enumerate() {
                    let Some(rs) = object_get(su, "resources", empty_list()) else {
                        continue;
                    };
                    let has_unknown = match rs {
                        Value::Array(a) => a.contains(&Value::Bool(true)),
                        Value::Object(o) => o.values().any(|x| *x == Value::Bool(true)),
                        _ => false,
                    };
                    if !has_unknown {
                        continue;
                    }
                    let Some(s) = val("statement").and_then(|st| st.as_array()?.get(k)) else {
                        continue;
                    };
                    if !allows(s, "effect") {
                        continue;
                    }
                    let acts = match object_get(s, "actions", empty_list()) {
                        Some(Value::Array(a)) => a.as_slice(),
                        Some(Value::Object(_)) => return None,
                        _ => &[],
                    };
                    for a in acts {
                        if !read_only(a.as_str()?) {
                            push_unique(
                                out,
                                tf(
                                    "iam_policy_unknown",
                                    &format!(
                                        "the resources of statement {k} in {addr} are known only after apply"
                                    ),
                                    "medium",
                                    "make the statement's resources computable at plan time, or waive",
                                    pi,
                                    &format!("{ptr}/statement/{k}/resources"),
                                ),
                                unknown,
                            );
                        }
                    }
                }
            }
            if p.public_s3 && ty == "aws_s3_bucket_policy" && unknown_true("policy") {
                push_unique(
                    out,
                    tf(
                        "s3_policy_unknown",
                        &format!("the bucket policy of {addr} is known only after apply"),
                        "medium",
                        "make the bucket policy computable at plan time, or waive",
                        pi,
                        ptr,
                    ),
                    unknown,
                );
            }

            let admin = |arn: &str| {
                p.admin_policies
                    .iter()
                    .any(|name| arn.ends_with(&format!("policy/{name}")))
            };
            if ATTACHMENT_TYPES.contains(&ty) {
                if let Some(Value::String(arn)) = val("policy_arn")
                    && admin(arn)
                {
                    push_unique(
                        out,
                        tf(
                            "iam_admin_policy",
                            &format!("{addr} attaches the admin policy {arn}"),
                            "critical",
                            "attach a policy with only the permissions the service needs",
                            pi,
                            &format!("{ptr}/policy_arn"),
                        ),
                        deny,
                    );
                }
                if unknown_true("policy_arn") {
                    push_unique(
                        out,
                        tf(
                            "iam_policy_unknown",
                            &format!("the policy ARN attached by {addr} is known only after apply"),
                            "medium",
                            "attach a policy whose ARN is known at plan time, or waive",
                            pi,
                            ptr,
                        ),
                        unknown,
                    );
                }
            }
            if ty == "aws_iam_role" {
                for (k, arn) in elements(val("managed_policy_arns"))?.iter().enumerate() {
                    if let Some(arn) = arn.as_str()
                        && admin(arn)
                    {
                        push_unique(
                            out,
                            tf(
                                "iam_admin_policy",
                                &format!("{addr} attaches the admin policy {arn}"),
                                "critical",
                                "attach a policy with only the permissions the service needs",
                                pi,
                                &format!("{ptr}/managed_policy_arns/{k}"),
                            ),
                            deny,
                        );
                    }
                }
            }

            // --- S3 ---
            if p.public_s3 {
                if matches!(ty, "aws_s3_bucket" | "aws_s3_bucket_acl")
                    && let Some(Value::String(acl)) = val("acl")
                    && matches!(
                        acl.as_str(),
                        "public-read" | "public-read-write" | "authenticated-read"
                    )
                {
                    push_unique(
                        out,
                        tf(
                            "s3_public",
                            &format!("{addr} has the public ACL `{acl}`"),
                            "high",
                            "use a private ACL and grant access through a bucket policy",
                            pi,
                            &format!("{ptr}/acl"),
                        ),
                        deny,
                    );
                }
                if matches!(
                    ty,
                    "aws_s3_bucket_public_access_block" | "aws_s3_account_public_access_block"
                ) {
                    for flag in [
                        "block_public_acls",
                        "block_public_policy",
                        "ignore_public_acls",
                        "restrict_public_buckets",
                    ] {
                        if val(flag) == Some(&Value::Bool(false)) {
                            push_unique(
                                out,
                                tf(
                                    "s3_public",
                                    &format!("{addr} turns off `{flag}`"),
                                    "high",
                                    "set all four public access block flags to true",
                                    pi,
                                    &format!("{ptr}/{flag}"),
                                ),
                                deny,
                            );
                        }
                    }
                }
                if ty == "aws_s3_bucket_policy"
                    && let Some(Value::String(policy)) = val("policy")
                {
                    let doc = unmarshal(policy)?;
                    let public = statements(&doc).iter().any(|s| {
                        allows(s, "Effect")
                            && object_get(s, "Principal", &Value::Null).is_some_and(|pr| {
                                pr.as_str() == Some("*")
                                    || object_get(pr, "AWS", &Value::Null)
                                        .and_then(as_list)
                                        .is_some_and(|l| l.iter().any(|x| x.as_str() == Some("*")))
                            })
                            && !truthy(s.get("Condition"))
                    });
                    if public {
                        push_unique(
                            out,
                            tf(
                                "s3_public",
                                &format!("{addr} grants access to any principal (`*`)"),
                                "high",
                                "name the principals that need access",
                                pi,
                                &format!("{ptr}/policy"),
                            ),
                            deny,
                        );
                    }
                }
            }
            if p.unencrypted_s3
                && ty == "aws_s3_bucket"
                && r.get("mode").and_then(Value::as_str) == Some("managed")
            {
                let configured = match object_get(
                    values,
                    "server_side_encryption_configuration",
                    empty_list(),
                ) {
                    Some(Value::Array(a)) => !a.is_empty(),
                    Some(Value::Object(o)) => !o.is_empty(),
                    // `count` of a string is its length: left to Rego.
                    Some(Value::String(_)) => return None,
                    _ => false,
                };
                let has_sse = configured
                    || unknown_true("server_side_encryption_configuration")
                    || val("bucket").is_some_and(|b| sse_buckets.iter().any(|x| rego_eq(x, b)))
                    || sse_unknown;
                if !has_sse {
                    push_unique(
                        out,
                        tf(
                            "s3_unencrypted",
                            &format!("{addr} has no server-side encryption configured"),
                            "medium",
                            "add an aws_s3_bucket_server_side_encryption_configuration (SSE-KMS or AES256)",
                            pi,
                            ptr,
                        ),
                        deny,
                    );
                }
            }

            // --- Security groups ---
            if p.open_security_groups {
                let mut rules: Vec<(String, &Value)> = Vec::new();
                match ty {
                    "aws_security_group" => {
                        for (k, rule) in elements(val("ingress"))?.iter().enumerate() {
                            rules.push((format!("{ptr}/ingress/{k}"), rule));
                        }
                    }
                    "aws_security_group_rule"
                        if val("type").and_then(Value::as_str) == Some("ingress") =>
                    {
                        rules.push((ptr.to_string(), values));
                    }
                    "aws_vpc_security_group_ingress_rule" => rules.push((ptr.to_string(), values)),
                    _ => {}
                }
                for (rptr, rule) in rules {
                    if let Some(t) = open_ingress(rule, &p.public_ports)? {
                        push_unique(
                            out,
                            tf(
                                "sg_open_ingress",
                                &format!("{addr} opens {t} to the internet"),
                                "high",
                                "restrict the ingress CIDR to known ranges or put the service behind a load balancer",
                                pi,
                                &rptr,
                            ),
                            deny,
                        );
                    }
                }
            }
        }
    }
    Some(())
}

/// The port text of an ingress rule open to the internet (`Some(None)` when
/// it is not, or has no port text), `None` when left to Rego.
fn open_ingress(rule: &Value, public_ports: &[Value]) -> Option<Option<String>> {
    let Some(o) = rule.as_object() else {
        return Some(None);
    };
    let listed = |k: &str, cidr: &str| {
        as_list(o.get(k).unwrap_or(empty_list()))
            .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(cidr)))
    };
    let equals = |k: &str, cidr: &str| o.get(k).and_then(Value::as_str) == Some(cidr);
    let world = listed("cidr_blocks", "0.0.0.0/0")
        || listed("ipv6_cidr_blocks", "::/0")
        || equals("cidr_ipv4", "0.0.0.0/0")
        || equals("cidr_ipv6", "::/0");
    if !world {
        return Some(None);
    }
    let protocol = o
        .get("protocol")
        .or_else(|| o.get("ip_protocol"))
        .and_then(Value::as_str);
    let all_ports = matches!(protocol, Some("-1" | "all"));
    if all_ports {
        return Some(Some("all ports".into()));
    }
    let (Some(from), Some(to)) = (o.get("from_port"), o.get("to_port")) else {
        return Some(None);
    };
    if rego_eq(from, to) {
        if public_ports.iter().any(|p| rego_eq(p, from)) {
            return Some(None);
        }
        return Some(Some(format!("port {}", text(from)?)));
    }
    Some(Some(format!("ports {}-{}", text(from)?, text(to)?)))
}

// --- k8s_baseline ---

/// Kinds `k8s_baseline` knows to run no pods (`podless_kinds`).
const PODLESS_KINDS: &[&str] = &[
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "CustomResourceDefinition",
    "Endpoints",
    "EndpointSlice",
    "HorizontalPodAutoscaler",
    "Ingress",
    "IngressClass",
    "LimitRange",
    "MutatingWebhookConfiguration",
    "Namespace",
    "NetworkPolicy",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PodDisruptionBudget",
    "PriorityClass",
    "ResourceQuota",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "ServiceAccount",
    "StorageClass",
    "ValidatingWebhookConfiguration",
];

/// `has_containers(doc)`: a `containers` key holding an array anywhere.
fn has_containers(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| (k == "containers" && x.is_array()) || has_containers(x)),
        Value::Array(a) => a.iter().any(has_containers),
        _ => false,
    }
}

/// `label(doc)`: `Kind/name` of any document (`None`: left to Rego).
fn k8s_label(kind: &str, doc: &Value) -> Option<String> {
    Some(match doc.get("metadata") {
        Some(Value::Object(meta)) => match meta.get("name") {
            None => format!("{kind}/?"),
            Some(n) => format!("{kind}/{}", text(n)?),
        },
        _ => format!("{kind}/?"),
    })
}

fn k8s_baseline(v: &View<'_>, p: &K8s, out: &mut Vec<Found>) -> Option<()> {
    let deny = Effect::Deny;
    for (mi, m) in v.manifests.iter().enumerate() {
        for (d, doc) in elements(m.get("documents"))?.iter().enumerate() {
            let Some(kind) = doc.get("kind").and_then(Value::as_str) else {
                continue;
            };
            let spec_of = |path: &[&str]| path.iter().try_fold(doc, |x, k| x.get(*k));
            let (spec, sp, dotted) = match kind {
                "Pod" => (spec_of(&["spec"]), "/spec", "spec"),
                "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "Job"
                | "ReplicationController" => (
                    spec_of(&["spec", "template", "spec"]),
                    "/spec/template/spec",
                    "spec.template.spec",
                ),
                "CronJob" => (
                    spec_of(&["spec", "jobTemplate", "spec", "template", "spec"]),
                    "/spec/jobTemplate/spec/template/spec",
                    "spec.jobTemplate.spec.template.spec",
                ),
                _ => {
                    if !PODLESS_KINDS.contains(&kind) && has_containers(doc) {
                        let label = k8s_label(kind, doc)?;
                        push_unique(
                            out,
                            finding(
                                "unknown_kind",
                                &format!(
                                    "{label}: kind `{kind}` is not one k8s_baseline knows, so its containers were not checked"
                                ),
                                "high",
                                "check this kind with a custom Rego guardrail, or waive the rule `unknown_kind` for it",
                                "manifests",
                                mi,
                                &format!("/{d}/kind"),
                            ),
                            Effect::Unknown,
                        );
                    }
                    continue;
                }
            };
            if !spec.is_some_and(Value::is_object) {
                let label = k8s_label(kind, doc)?;
                push_unique(
                    out,
                    finding(
                        "pod_spec_unreadable",
                        &format!(
                            "{label}: no pod spec (a mapping) at `{dotted}`, so its containers cannot be checked"
                        ),
                        "high",
                        &format!("write the pod spec as a mapping at `{dotted}`"),
                        "manifests",
                        mi,
                        &format!("/{d}/spec"),
                    ),
                    Effect::Unknown,
                );
            }
            let Some(spec) = spec else { continue };
            let name = match doc.get("metadata") {
                None => "?".to_string(),
                Some(Value::Object(meta)) => match meta.get("name") {
                    None => "?".to_string(),
                    Some(n) => text(n)?,
                },
                // `object.get` of a non-object: the document is not a pod.
                Some(_) => continue,
            };
            let name = format!("{kind}/{name}");
            let sp = format!("/{d}{sp}");
            let Some(spec_obj) = spec.as_object() else {
                continue;
            };
            for field in ["containers", "initContainers"] {
                for (k, c) in elements(spec_obj.get(field))?.iter().enumerate() {
                    let Some(cname) = c.get("name") else { continue };
                    let cname = text(cname)?;
                    let cp = format!("{sp}/{field}/{k}");
                    let csc = c.get("securityContext");
                    if p.privileged
                        && csc.and_then(|s| s.get("privileged")) == Some(&Value::Bool(true))
                    {
                        push_unique(
                            out,
                            finding(
                                "privileged",
                                &format!("{name}: container `{cname}` runs privileged"),
                                "critical",
                                "remove `securityContext.privileged: true`; grant only the capabilities needed",
                                "manifests",
                                mi,
                                &format!("{cp}/securityContext/privileged"),
                            ),
                            deny,
                        );
                    }
                    if p.run_as_root {
                        let sc = |key: &str| match csc {
                            Some(Value::Object(o)) if o.contains_key(key) => o.get(key),
                            _ => spec_obj.get("securityContext").and_then(|s| s.get(key)),
                        };
                        let uid = sc("runAsUser").and_then(Value::as_f64);
                        let non_root = sc("runAsNonRoot") == Some(&Value::Bool(true));
                        let root = uid == Some(0.0) || (!non_root && !uid.is_some_and(|u| u > 0.0));
                        if root {
                            push_unique(
                                out,
                                finding(
                                    "run_as_root",
                                    &format!(
                                        "{name}: container `{cname}` may run as root (no `runAsNonRoot: true` or non-zero `runAsUser`)"
                                    ),
                                    "high",
                                    "set `securityContext.runAsNonRoot: true` and a non-zero `runAsUser`",
                                    "manifests",
                                    mi,
                                    &cp,
                                ),
                                deny,
                            );
                        }
                    }
                    if p.resource_limits {
                        let limits = c.get("resources").and_then(|r| r.get("limits"));
                        let missing: Vec<&str> = ["cpu", "memory"]
                            .into_iter()
                            .filter(|r| !truthy(limits.and_then(|l| l.get(*r))))
                            .collect();
                        if !missing.is_empty() {
                            push_unique(
                                out,
                                finding(
                                    "no_resource_limits",
                                    &format!(
                                        "{name}: container `{cname}` has no {} limit",
                                        missing.join(" or ")
                                    ),
                                    "medium",
                                    "set `resources.limits.cpu` and `resources.limits.memory`",
                                    "manifests",
                                    mi,
                                    &cp,
                                ),
                                deny,
                            );
                        }
                    }
                    let image = match c.get("image") {
                        Some(Value::String(i)) => Some(i),
                        None => None,
                        // regorus' VM finds a tag `(none)` in a number: left to Rego.
                        Some(_) if p.latest_tag => return None,
                        Some(_) => None,
                    };
                    if p.latest_tag
                        && let Some(image) = image
                        && matches!(image_tag(image), "latest" | "(none)")
                    {
                        push_unique(
                            out,
                            finding(
                                "latest_tag",
                                &format!(
                                    "{name}: container `{cname}` uses image `{image}` without a pinned tag"
                                ),
                                "medium",
                                "pin the image to a version tag or a digest",
                                "manifests",
                                mi,
                                &format!("{cp}/image"),
                            ),
                            deny,
                        );
                    }
                }
            }
            if p.host_path {
                for (k, vol) in elements(spec_obj.get("volumes"))?.iter().enumerate() {
                    let host = vol.get("hostPath");
                    if !truthy(host) {
                        continue;
                    }
                    let (Some(vname), Some(path)) =
                        (vol.get("name"), host.and_then(|h| h.get("path")))
                    else {
                        continue;
                    };
                    push_unique(
                        out,
                        finding(
                            "host_path",
                            &format!(
                                "{name}: volume `{}` mounts the host path {}",
                                text(vname)?,
                                text(path)?
                            ),
                            "high",
                            "use a persistent volume claim, configMap or emptyDir instead of hostPath",
                            "manifests",
                            mi,
                            &format!("{sp}/volumes/{k}/hostPath"),
                        ),
                        deny,
                    );
                }
            }
            if p.host_namespaces {
                for (field, ns) in [
                    ("hostNetwork", "network"),
                    ("hostPID", "process"),
                    ("hostIPC", "IPC"),
                ] {
                    if spec_obj.get(field) == Some(&Value::Bool(true)) {
                        push_unique(
                            out,
                            finding(
                                "host_namespace",
                                &format!(
                                    "{name} shares the host's {ns} namespace (`{field}: true`)"
                                ),
                                "high",
                                &format!("remove `{field}`"),
                                "manifests",
                                mi,
                                &format!("{sp}/{field}"),
                            ),
                            deny,
                        );
                    }
                }
            }
        }
    }
    Some(())
}

/// `image_tag(image)`: `""` for a digest, `(none)` without a tag.
fn image_tag(image: &str) -> &str {
    if image.contains("@sha256:") {
        return "";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        last.rsplit(':').next().unwrap_or("")
    } else {
        "(none)"
    }
}

//! Built-in guardrail kinds: their Rego modules (embedded in the binary),
//! default parameters, and rendering a guardrail into a module with its
//! parameters and scope filled in.

use bearing_intent::{Guardrail, GuardrailKind, Intent, Money, Percent, Scope};
use serde_json::{Map, Value, json};

use crate::GuardError;

/// Helpers every built-in module imports.
pub const LIB: &str = include_str!("../policies/lib.rego");

/// The template of a built-in kind (`None` for `rego`).
pub fn template(kind: GuardrailKind) -> Option<&'static str> {
    Some(match kind {
        GuardrailKind::CostBudget => include_str!("../policies/cost_budget.rego"),
        GuardrailKind::Vulnerabilities => include_str!("../policies/vulnerabilities.rego"),
        GuardrailKind::ErrorBudget => include_str!("../policies/error_budget.rego"),
        GuardrailKind::IamLeastPrivilege => include_str!("../policies/iam_least_privilege.rego"),
        GuardrailKind::K8sBaseline => include_str!("../policies/k8s_baseline.rego"),
        GuardrailKind::ChangeWindow => include_str!("../policies/change_window.rego"),
        GuardrailKind::DeployStrategy => include_str!("../policies/deploy_strategy.rego"),
        GuardrailKind::RequiredChecks => include_str!("../policies/required_checks.rego"),
        GuardrailKind::ChangeRisk => include_str!("../policies/change_risk.rego"),
        GuardrailKind::Rego => return None,
    })
}

/// Default parameters of a built-in kind.
pub fn defaults(kind: GuardrailKind) -> Value {
    match kind {
        GuardrailKind::CostBudget => json!({
            "max_monthly_increase": null,
            "max_increase_percent": null,
            "monthly_budget": null,
            "budgets": {},
        }),
        GuardrailKind::Vulnerabilities => json!({
            "block": ["critical", "high"],
            "fixable_only": true,
            "max_age_days": null,
            "sla": true,
            "deny": {"kev": false, "epss_at_least": null},
        }),
        GuardrailKind::ErrorBudget => json!({
            "exempt_labels": ["hotfix", "security"],
            "min_remaining": 0,
            "on_missing": "allow",
        }),
        GuardrailKind::IamLeastPrivilege => json!({
            "wildcard_actions": true,
            "wildcard_resources": true,
            "admin_policies": ["AdministratorAccess", "IAMFullAccess"],
            "allowed_actions": [],
            "public_s3": true,
            "unencrypted_s3": true,
            "open_security_groups": true,
            "public_ports": [80, 443],
        }),
        GuardrailKind::K8sBaseline => json!({
            "privileged": true,
            "run_as_root": true,
            "resource_limits": true,
            "latest_tag": true,
            "host_path": true,
            "host_namespaces": true,
        }),
        GuardrailKind::ChangeWindow => json!({
            "timezone": "UTC",
            "windows": [],
            "blackouts": [],
            "exempt_labels": ["hotfix"],
        }),
        GuardrailKind::DeployStrategy => json!({}),
        GuardrailKind::RequiredChecks => json!({
            "checks": ["tests"],
            "scans": true,
            "passing": ["passed", "success", "succeeded", "ok", "pass"],
        }),
        GuardrailKind::ChangeRisk => json!({
            "deny_above": 0.8,
            "warn_above": 0.5,
            "unless_canary": true,
            "on_missing": "allow",
        }),
        GuardrailKind::Rego => json!({
            "namespaces": ["main"],
            "all_namespaces": false,
            "combine": false,
            "rego_version": null,
        }),
    }
}

fn bad(g: &Guardrail, key: &str, expected: &str) -> GuardError {
    GuardError::Param {
        guardrail: g.id.clone(),
        param: key.to_string(),
        expected: expected.to_string(),
    }
}

fn amount(g: &Guardrail, key: &str, v: &Value) -> Result<Value, GuardError> {
    match v {
        Value::Null | Value::Number(_) => Ok(v.clone()),
        Value::String(s) => s
            .parse::<Money>()
            .map(|m| json!(m.amount))
            .or_else(|_| s.trim().parse::<f64>().map(|f| json!(f)))
            .map_err(|_| bad(g, key, "an amount such as `500 USD` or `500`")),
        _ => Err(bad(g, key, "an amount such as `500 USD`")),
    }
}

fn percent_number(
    g: &Guardrail,
    key: &str,
    v: &Value,
    fraction: bool,
) -> Result<Value, GuardError> {
    match v {
        Value::Null | Value::Number(_) => Ok(v.clone()),
        Value::String(s) => s
            .parse::<Percent>()
            .map(|p| {
                let pct = p.0;
                json!(if fraction { pct / 100.0 } else { pct })
            })
            .map_err(|_| bad(g, key, "a percentage such as `20%`")),
        _ => Err(bad(g, key, "a percentage such as `20%`")),
    }
}

/// The lowest `epss_at_least` a `vulnerabilities` guardrail may set: the
/// live outcomes list findings from this EPSS score on
/// (`bearing_metrics::THREAT_EPSS_FLOOR`).
pub const EPSS_FLOOR: f64 = 0.1;

/// `vulnerabilities`' `deny: {kev: true, epss_at_least: 0.5}`, over its defaults.
fn threat_deny(g: &Guardrail, key: &str, v: &Value) -> Result<Value, GuardError> {
    let Value::Object(m) = v else {
        return Err(bad(
            g,
            key,
            "a map such as `{kev: true, epss_at_least: 0.5}`",
        ));
    };
    let mut out = json!({"kev": false, "epss_at_least": null});
    for (k, x) in m {
        match (k.as_str(), x) {
            ("kev", Value::Bool(_)) => out["kev"] = x.clone(),
            ("kev", _) => return Err(bad(g, "deny.kev", "`true` or `false`")),
            ("epss_at_least", Value::Null) => {}
            ("epss_at_least", Value::Number(n))
                if n.as_f64().is_some_and(|f| (EPSS_FLOOR..=1.0).contains(&f)) =>
            {
                out["epss_at_least"] = x.clone()
            }
            ("epss_at_least", _) => {
                return Err(bad(
                    g,
                    "deny.epss_at_least",
                    &format!("an EPSS probability from {EPSS_FLOOR} to 1, such as `0.5`"),
                ));
            }
            (other, _) => {
                return Err(bad(
                    g,
                    &format!("deny.{other}"),
                    "one of: kev, epss_at_least",
                ));
            }
        }
    }
    Ok(out)
}

/// The guardrail's parameters merged over the kind's defaults, with units
/// (money, percentages, durations) turned into numbers.
pub fn params(g: &Guardrail, intent: &Intent) -> Result<Map<String, Value>, GuardError> {
    let Value::Object(mut p) = defaults(g.kind) else {
        return Ok(Map::new());
    };
    for (k, v) in &g.params {
        let key = if g.kind == GuardrailKind::Vulnerabilities && k == "max_age" {
            "max_age_days"
        } else {
            k.as_str()
        };
        if !p.contains_key(key) {
            let known: Vec<&str> = p.keys().map(String::as_str).collect();
            return Err(bad(g, k, &format!("one of: {}", known.join(", "))));
        }
        let v = match (g.kind, key) {
            (GuardrailKind::CostBudget, "max_monthly_increase" | "monthly_budget") => {
                amount(g, key, v)?
            }
            (GuardrailKind::CostBudget, "max_increase_percent") => {
                percent_number(g, key, v, false)?
            }
            (GuardrailKind::ErrorBudget, "min_remaining") => percent_number(g, key, v, true)?,
            (GuardrailKind::Vulnerabilities, "max_age_days") => match v {
                Value::String(s) => {
                    let d: bearing_intent::Duration = s
                        .parse()
                        .map_err(|_| bad(g, k, "a duration such as `30d`"))?;
                    json!(d.as_days_f64())
                }
                other => other.clone(),
            },
            (GuardrailKind::Vulnerabilities, "deny") => threat_deny(g, k, v)?,
            (GuardrailKind::Vulnerabilities, "block") => match v {
                Value::Array(a) => Value::Array(
                    a.iter()
                        .map(|s| json!(s.as_str().unwrap_or("").to_ascii_lowercase()))
                        .collect(),
                ),
                _ => return Err(bad(g, k, "a list of severities")),
            },
            _ => v.clone(),
        };
        let default = &p[key];
        let type_ok = default.is_null()
            || v.is_null()
            || matches!(
                (default, &v),
                (Value::Bool(_), Value::Bool(_))
                    | (Value::Number(_), Value::Number(_))
                    | (Value::String(_), Value::String(_))
                    | (Value::Array(_), Value::Array(_))
                    | (Value::Object(_), Value::Object(_))
            );
        if !type_ok {
            return Err(bad(g, k, &format!("a value like `{default}`")));
        }
        p.insert(key.to_string(), v);
    }
    if g.kind == GuardrailKind::CostBudget {
        let budgets: Map<String, Value> = intent
            .services
            .iter()
            .filter_map(|s| {
                let b = s.cost.as_ref()?.monthly_budget.as_ref()?;
                Some((s.id.clone(), json!(b.amount)))
            })
            .collect();
        p.insert("budgets".into(), Value::Object(budgets));
    }
    if g.kind == GuardrailKind::ChangeWindow
        && !g.params.contains_key("timezone")
        && let Some(tz) = intent.settings.as_ref().and_then(|s| s.timezone.clone())
    {
        p.insert("timezone".into(), json!(tz));
    }
    Ok(p)
}

fn rego_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The Rego conditions of a scope (`true` when it is the whole organisation).
pub fn scope_conditions(scope: &Scope, intent: &Intent) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(s) = &scope.service {
        c.push(format!("input.service == {}", rego_string(s)));
    }
    if let Some(e) = &scope.environment {
        c.push(format!("input.environment == {}", rego_string(e)));
    }
    if let Some(t) = &scope.team {
        let services: Vec<String> = intent.services_of(t).map(|s| rego_string(&s.id)).collect();
        if services.is_empty() {
            c.push(format!("false # team `{t}` owns no services"));
        } else {
            c.push(format!("input.service in {{{}}}", services.join(", ")));
        }
    }
    if c.is_empty() {
        c.push("true".into());
    }
    c
}

/// The package a guardrail's module is rendered into.
pub fn package(index: usize) -> String {
    format!("bearing.guardrails.g{index}")
}

/// Renders a built-in guardrail into a complete Rego module.
pub fn render(g: &Guardrail, index: usize, intent: &Intent) -> Result<String, GuardError> {
    let Some(body) = template(g.kind) else {
        return Err(GuardError::Param {
            guardrail: g.id.clone(),
            param: "kind".into(),
            expected: "a built-in kind".into(),
        });
    };
    let params = params(g, intent)?;
    let params_text =
        serde_json::to_string_pretty(&Value::Object(params)).unwrap_or_else(|_| "{}".into());
    let params_text = params_text.replace("\n", "\n\t").replace("  ", "\t");
    let mut out = String::new();
    out.push_str(&format!(
        "# Guardrail `{}` (kind {}), mode {}{}.\n# Rendered by Bearing from its built-in `{}` module with the guardrail's params.\n",
        g.id,
        g.kind.name(),
        match g.mode {
            bearing_intent::Mode::Enforce => "enforce",
            bearing_intent::Mode::Warn => "warn",
            bearing_intent::Mode::Audit => "audit",
        },
        g.protects
            .as_deref()
            .map(|o| format!(", protects `{o}`"))
            .unwrap_or_default(),
        g.kind.name(),
    ));
    out.push_str(&format!(
        "package {}\n\nimport rego.v1\n\nimport data.bearing.lib\n\nparams := {}\n\napplies if {{\n",
        package(index),
        params_text.trim_end()
    ));
    for c in scope_conditions(&g.scope, intent) {
        out.push_str(&format!("\t{c}\n"));
    }
    out.push_str("}\n\n");
    out.push_str(body.trim_end());
    out.push_str("\n\nfindings := {\"deny\": deny, \"warn\": warn, \"unknown\": unknown}\n");
    Ok(out)
}

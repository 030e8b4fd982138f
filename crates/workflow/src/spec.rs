//! What a service's pipeline must do, worked out from the intent once and
//! shared by every target platform.
//!
//! The intent says which commands build, test and deploy a service, which
//! strategy delivers it (possibly tightened by reconcile's delivery plan),
//! which objectives each stage serves, and whether a human approval step is
//! warranted: not where an engineering objective is speed (lead time or
//! deployment frequency) and enforced guardrails cover the risk.

use bearing_events::DeliveryPlan;
use bearing_intent::{
    CanaryPrometheus, Duration, Intent, Layer, Mode, Objective, Scanner, Scope, Service, Strategy,
};

/// Everything a generator needs for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub service: String,
    pub team: String,
    /// Environments in promotion order; never empty.
    pub environments: Vec<String>,
    pub production: String,
    pub strategy: Strategy,
    /// Where the strategy comes from, for the header.
    pub strategy_source: String,
    /// Canary traffic steps in whole percent (only for canary).
    pub canary_steps: Vec<u32>,
    pub canary_analysis: Duration,
    /// Where the canary analysis reads its samples; `None`: the deploy
    /// command's `analyse` phase writes them to files.
    pub canary_prometheus: Option<CanaryPrometheus>,
    pub feature_flag: Option<String>,
    /// Production deploys frozen by the delivery plan.
    pub frozen: bool,
    pub extra_gates: Vec<String>,
    pub build: String,
    pub test: String,
    pub image: Option<String>,
    pub terraform: Option<String>,
    pub deploy: String,
    /// True when the intent gives a deploy command.
    pub has_deploy: bool,
    pub scanner: Scanner,
    /// Bearing server URL from the intent, if set.
    pub server: Option<String>,
    pub approval: Approval,
    pub serves: Serves,
}

/// Whether production deploys wait for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// No approval: the objective is speed and guardrails cover the risk.
    None { reason: String },
    /// Rely on environment protection rules (required reviewers).
    Protected { reason: String },
}

/// The objectives each stage serves, as written in `# serves:` comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serves {
    pub build: String,
    pub scan: String,
    pub cost: String,
    pub gate: String,
    pub deploy: String,
    pub canary: String,
    pub flag: String,
    pub events: String,
}

const NO_OBJECTIVE: &str = "no objective in the intent";

/// Default canary traffic steps when the intent names none.
pub const DEFAULT_CANARY_STEPS: [u32; 2] = [10, 50];
/// Default analysis time per canary step.
pub const DEFAULT_CANARY_ANALYSIS: Duration = Duration::from_secs(600);

impl PipelineSpec {
    /// Works out the pipeline of `service`; `plan` overrides the intent's strategy.
    pub fn new(intent: &Intent, service: &Service, plan: Option<&DeliveryPlan>) -> Self {
        let delivery = service.delivery.clone().unwrap_or_default();
        let mut strategy = delivery.strategy;
        let mut strategy_source = "intent".to_string();
        let mut frozen = false;
        let mut extra_gates = Vec::new();
        if let Some(plan) = plan {
            if let Some(s) = parse_strategy(&plan.strategy) {
                strategy = s;
                strategy_source = if plan.reasons.is_empty() {
                    "delivery plan".to_string()
                } else {
                    format!("delivery plan ({})", plan.reasons.join(", "))
                };
            }
            frozen = plan.freeze;
            extra_gates = plan.extra_gates.clone();
            extra_gates.sort();
            extra_gates.dedup();
        }
        let mut environments = service.environments.clone();
        if environments.is_empty() {
            environments.push(service.production_env().to_string());
        }
        let production = service.production_env().to_string();
        if !environments.contains(&production) {
            environments.push(production.clone());
        }
        let canary_steps = if strategy == Strategy::Canary {
            let mut steps: Vec<u32> = delivery
                .canary_steps
                .iter()
                .map(|p| p.0.round().clamp(1.0, 99.0) as u32)
                .collect();
            steps.sort_unstable();
            steps.dedup();
            if steps.is_empty() {
                steps = DEFAULT_CANARY_STEPS.to_vec();
            }
            steps
        } else {
            Vec::new()
        };
        let build = service.build.clone().unwrap_or_default();
        let clean = |c: Option<String>| c.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        let image = clean(build.image.clone());
        let default_build = match &image {
            Some(img) => format!("docker build -t \"{img}:$VERSION\" ."),
            None => "make build".to_string(),
        };
        let deploy_cmd = clean(build.deploy.clone());
        let has_deploy = deploy_cmd.is_some();
        let deploy = deploy_cmd.unwrap_or_else(|| {
            format!(
                "echo \"no deploy command for service {}: set services[].build.deploy in the intent\" >&2\nexit 1",
                service.id
            )
        });
        let workflows = intent.workflows.clone().unwrap_or_default();
        PipelineSpec {
            service: service.id.clone(),
            team: service.team.clone(),
            environments,
            production,
            strategy,
            strategy_source,
            canary_steps,
            canary_analysis: delivery.canary_analysis.unwrap_or(DEFAULT_CANARY_ANALYSIS),
            canary_prometheus: delivery.canary_prometheus.clone(),
            feature_flag: clean(delivery.feature_flag.clone()),
            frozen,
            extra_gates,
            build: clean(build.build.clone()).unwrap_or(default_build),
            test: clean(build.test.clone()).unwrap_or_else(|| "make test".to_string()),
            image,
            terraform: clean(build.terraform.clone()),
            deploy,
            has_deploy,
            scanner: workflows.scanner.unwrap_or_default(),
            server: clean(workflows.server.clone()),
            approval: approval(intent, service),
            serves: serves(intent, service),
        }
    }

    /// Environments before production, in promotion order.
    pub fn pre_production(&self) -> impl Iterator<Item = &str> {
        self.environments
            .iter()
            .map(String::as_str)
            .filter(move |e| *e != self.production)
    }

    /// One line describing the delivery, for headers.
    pub fn delivery_summary(&self) -> String {
        let mut s = format!("{} to {}", self.strategy.name(), self.production);
        if self.strategy == Strategy::Canary {
            let steps: Vec<String> = self.canary_steps.iter().map(|p| format!("{p}%")).collect();
            s.push_str(&format!(
                " (steps {}, {} analysis each)",
                steps.join(" → "),
                self.canary_analysis
            ));
        }
        if let Some(flag) = &self.feature_flag {
            s.push_str(&format!(", feature flag `{flag}`"));
        }
        s.push_str(&format!("; strategy from {}", self.strategy_source));
        if self.frozen {
            s.push_str("; production deploys FROZEN by the delivery plan");
        }
        s
    }
}

/// `direct`, `canary`, `blue-green` (also `blue_green`).
pub fn parse_strategy(s: &str) -> Option<Strategy> {
    match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "direct" => Some(Strategy::Direct),
        "canary" => Some(Strategy::Canary),
        "blue-green" | "bluegreen" => Some(Strategy::BlueGreen),
        _ => None,
    }
}

fn scope_applies(scope: &Scope, service: &Service) -> bool {
    scope.service.as_deref().is_none_or(|s| s == service.id)
        && scope.team.as_deref().is_none_or(|t| t == service.team)
}

fn objective_applies(o: &Objective, service: &Service) -> bool {
    o.key_results
        .iter()
        .any(|kr| scope_applies(&kr.scope, service))
}

/// True when an engineering objective for this service is about speed.
pub fn speed_objective(intent: &Intent, service: &Service) -> Option<String> {
    intent
        .objectives
        .iter()
        .filter(|o| o.layer == Layer::Engineering)
        .find(|o| {
            o.key_results.iter().any(|kr| {
                scope_applies(&kr.scope, service)
                    && (kr.metric.starts_with("dora.lead_time")
                        || kr.metric.starts_with("dora.deployment_frequency"))
            })
        })
        .map(|o| o.id.clone())
}

/// Whether production deploys of `service` should wait for a human.
pub fn approval(intent: &Intent, service: &Service) -> Approval {
    let enforced: Vec<&str> = intent
        .guardrails
        .iter()
        .filter(|g| g.mode == Mode::Enforce && scope_applies(&g.scope, service))
        .map(|g| g.id.as_str())
        .collect();
    match speed_objective(intent, service) {
        Some(obj) if !enforced.is_empty() => Approval::None {
            reason: format!(
                "objective `{obj}` is speed and enforced guardrails ({}) cover the risk",
                enforced.join(", ")
            ),
        },
        Some(obj) => Approval::Protected {
            reason: format!(
                "objective `{obj}` is speed but no enforced guardrail applies to `{}`",
                service.id
            ),
        },
        None => Approval::Protected {
            reason: "no engineering objective asks for speed".to_string(),
        },
    }
}

fn ids<'a>(objectives: impl Iterator<Item = &'a Objective>) -> Vec<String> {
    let mut v: Vec<String> = objectives.map(|o| o.id.clone()).collect();
    v.dedup();
    v
}

fn join_or(v: Vec<String>, fallback: &str) -> String {
    if v.is_empty() {
        fallback.to_string()
    } else {
        v.join(", ")
    }
}

fn serves(intent: &Intent, service: &Service) -> Serves {
    let applicable = || {
        intent
            .objectives
            .iter()
            .filter(|o| objective_applies(o, service))
    };
    let with_metric = |layer: Option<Layer>, prefixes: &[&str]| -> Vec<String> {
        ids(applicable().filter(|o| {
            layer.is_none_or(|l| o.layer == l)
                && o.key_results
                    .iter()
                    .any(|kr| prefixes.iter().any(|p| kr.metric.starts_with(p)))
        }))
    };
    let of_layer = |layer: Layer| ids(applicable().filter(|o| o.layer == layer));
    let engineering = of_layer(Layer::Engineering);
    let first_non_empty = |options: Vec<Vec<String>>| {
        options
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };

    let speed = with_metric(
        Some(Layer::Engineering),
        &["dora.lead_time", "dora.deployment_frequency"],
    );
    let stability = with_metric(
        None,
        &[
            "dora.change_failure_rate",
            "dora.recovery_time",
            "dora.rework_rate",
            "slo.",
        ],
    );
    let mut security = of_layer(Layer::Security);
    if security.is_empty() {
        security = protected_by(intent, service, |k| {
            matches!(k, bearing_intent::GuardrailKind::Vulnerabilities)
        });
    }
    let all = ids(applicable());
    let mut gate = protected_by(intent, service, |_| true);
    gate.sort();
    gate.dedup();

    Serves {
        build: join_or(
            first_non_empty(vec![
                stability.clone(),
                speed.clone(),
                engineering.clone(),
                all.clone(),
            ]),
            NO_OBJECTIVE,
        ),
        scan: join_or(security, NO_OBJECTIVE),
        cost: join_or(of_layer(Layer::Financial), NO_OBJECTIVE),
        gate: join_or(first_non_empty(vec![gate, ids(applicable())]), NO_OBJECTIVE),
        deploy: join_or(
            first_non_empty(vec![speed.clone(), engineering.clone(), all.clone()]),
            NO_OBJECTIVE,
        ),
        canary: join_or(
            first_non_empty(vec![stability, engineering.clone(), all.clone()]),
            NO_OBJECTIVE,
        ),
        flag: join_or(
            first_non_empty(vec![of_layer(Layer::Business), speed.clone()]),
            NO_OBJECTIVE,
        ),
        events: join_or(all, NO_OBJECTIVE),
    }
}

/// Objectives protected by guardrails of the given kinds that apply to the service.
fn protected_by(
    intent: &Intent,
    service: &Service,
    kind: impl Fn(bearing_intent::GuardrailKind) -> bool,
) -> Vec<String> {
    let mut v: Vec<String> = intent
        .guardrails
        .iter()
        .filter(|g| kind(g.kind) && scope_applies(&g.scope, service))
        .filter_map(|g| g.protects.clone())
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(yaml: &str) -> Intent {
        yaml_serde::from_str(yaml).unwrap()
    }

    const BASE: &str = r#"
version: 1
services:
  - id: api
    team: core
    environments: [staging, production]
    delivery: { strategy: canary, canary_steps: [50%, 5%], canary_analysis: 5m }
objectives:
  - id: ship-fast
    layer: engineering
    key_results:
      - { metric: dora.lead_time.p50, target: "<= 1d" }
  - id: safe
    layer: security
    key_results:
      - { metric: security.findings_past_sla, target: "== 0" }
guardrails:
  - { id: vulns, kind: vulnerabilities, protects: safe }
"#;

    #[test]
    fn speed_with_enforced_guardrails_needs_no_approval() {
        let i = intent(BASE);
        let spec = PipelineSpec::new(&i, &i.services[0], None);
        assert!(
            matches!(spec.approval, Approval::None { .. }),
            "{:?}",
            spec.approval
        );
        assert_eq!(spec.canary_steps, vec![5, 50]);
        assert_eq!(spec.canary_analysis, Duration::from_secs(300));
        assert_eq!(spec.serves.deploy, "ship-fast");
        assert_eq!(spec.serves.scan, "safe");
        assert_eq!(spec.serves.gate, "safe");
        assert_eq!(spec.serves.cost, NO_OBJECTIVE);
    }

    #[test]
    fn audit_only_guardrails_keep_environment_protection() {
        let i = intent(&BASE.replace(
            "kind: vulnerabilities, protects: safe",
            "kind: vulnerabilities, protects: safe, mode: audit",
        ));
        let spec = PipelineSpec::new(&i, &i.services[0], None);
        assert!(matches!(spec.approval, Approval::Protected { .. }));
    }

    #[test]
    fn delivery_plan_overrides_strategy() {
        let i = intent(&BASE.replace("strategy: canary, ", "strategy: direct, "));
        let plan = DeliveryPlan {
            service: "api".into(),
            strategy: "canary".into(),
            freeze: false,
            extra_gates: vec!["required_checks".into()],
            reasons: vec!["rule-0".into()],
            updated_at: chrono_epoch(),
        };
        let spec = PipelineSpec::new(&i, &i.services[0], Some(&plan));
        assert_eq!(spec.strategy, Strategy::Canary);
        assert_eq!(spec.strategy_source, "delivery plan (rule-0)");
        assert_eq!(spec.extra_gates, vec!["required_checks".to_string()]);
    }

    fn chrono_epoch() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(0, 0).unwrap()
    }
}

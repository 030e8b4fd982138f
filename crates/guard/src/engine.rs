//! The policy engine: built-in guardrails rendered into Rego modules and
//! compiled once into regorus' bytecode VM (evaluated natively where the
//! kind has a native form, see [`crate::native`]), custom `rego` guardrails
//! in their own engines, and [`Engine::decide`] turning their findings into
//! a [`Decision`] with modes, waivers and locations applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bearing_events::DeliveryPlan;
use bearing_intent::{Guardrail, GuardrailKind, Intent, Mode, Scope, Waiver};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::GuardError;
use crate::conftest::{self, PolicyFile};
use crate::decision::{
    AppliedWaiver, Decision, Effect, ExpiredWaiver, ReplayContext, Verdict, Violation,
};
use crate::envelope::Envelope;
use crate::locate::Location;
use crate::native::{self, Native, View};
use crate::normalize::{self, builtin_input};
use crate::render;

/// What an evaluation reads besides the envelope.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Current delivery plans by service (from the store; the intent's
    /// `delivery` is used for services without one).
    pub plans: BTreeMap<String, DeliveryPlan>,
    /// Live outcomes (`bearing_metrics::outcomes`), `{"services": {...}}`.
    pub outcomes: Value,
    /// Change-risk score 0..1, if known.
    pub risk: Option<f64>,
    /// The reasons behind the score (its top factors), shown in findings.
    pub risk_reasons: Option<String>,
    /// Set when the risk model is advisory (its held-out AUC is too low):
    /// why. An advisory risk warns and never denies.
    pub risk_advisory: Option<String>,
    pub now: DateTime<Utc>,
}

/// What a decision reads of a [`Context`] for one service, as JSON. A caller
/// that decides many times against one context (the server) builds it once
/// per service with [`Context::service`]; [`Engine::decide_at`] builds it per
/// decision.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    service: String,
    /// `plans[service]` as JSON, when the context has a plan for it.
    plan: Option<Value>,
    /// What the decision log keeps to replay the decision: the service's
    /// plan and outcomes, and the risk (the time is the decision's own).
    replay: ReplayContext,
}

impl Context {
    /// The part of the context a decision on `service` reads.
    pub fn service(&self, service: &str) -> ServiceContext {
        let plan = self
            .plans
            .get(service)
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null));
        let outcome = self
            .outcomes
            .get("services")
            .and_then(|s| s.get(service))
            .cloned();
        let replay = json!({
            "plans": plan.as_ref().map_or_else(|| json!({}), |p| json!({service: p})),
            "outcomes": outcome.map_or(Value::Null, |o| json!({"services": {service: o}})),
            "risk": self.risk,
            "risk_reasons": self.risk_reasons,
            "risk_advisory": self.risk_advisory,
        });
        ServiceContext {
            service: service.to_string(),
            plan,
            replay: ReplayContext::new(&replay),
        }
    }
}

/// Limits applied to every decision.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget for one policy evaluation.
    pub eval_time: Duration,
    /// Largest envelope (serialized attachments) accepted.
    pub max_input_bytes: usize,
    /// Findings kept per guardrail; more are summarised.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            eval_time: Duration::from_millis(500),
            max_input_bytes: 64 << 20,
            max_findings: 500,
        }
    }
}

#[derive(Debug, Clone)]
struct Rail {
    id: String,
    kind: GuardrailKind,
    objective: Option<String>,
    mode: Mode,
    scope: Scope,
    /// Rendered module (built-ins).
    module: Option<String>,
    /// The native form of a built-in (see [`crate::native`]).
    native: Option<Native>,
    custom: Option<Custom>,
}

/// What a built-in rail without a native form needs in the change before its
/// module can report anything: every rule of `iam_least_privilege` iterates
/// over Terraform plans, every rule of `k8s_baseline` over manifests.
fn can_report(kind: GuardrailKind, env: &Envelope) -> bool {
    match kind {
        GuardrailKind::IamLeastPrivilege => !env.attachments.terraform_plans.is_empty(),
        GuardrailKind::K8sBaseline => !env.attachments.manifests.is_empty(),
        _ => true,
    }
}

/// The built-in modules compiled for regorus' VM, with a pool of VMs (a VM
/// is reused across decisions; each decision takes one from the pool).
struct Vm {
    program: Arc<regorus::rvm::program::Program>,
    data: regorus::Value,
    timer: regorus::utils::limits::ExecutionTimerConfig,
    pool: Mutex<Vec<regorus::rvm::vm::RegoVM>>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").finish_non_exhaustive()
    }
}

impl Vm {
    fn compile(
        engine: &regorus::Engine,
        rails: &[Rail],
        data: regorus::Value,
        limits: &Limits,
    ) -> Result<Vm, String> {
        let mut engine = engine.clone();
        let policy = engine
            .compile_with_entrypoint(&"data.bearing.decision.findings".into())
            .map_err(|e| e.to_string())?;
        let entries: Vec<String> = (0..rails.len())
            .filter(|&i| rails[i].module.is_some())
            .map(entry_point)
            .collect();
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let program =
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &entries)
                .map_err(|e| e.to_string())?;
        Ok(Vm {
            program,
            data,
            timer: timer(limits.eval_time),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// Evaluates the findings of the given built-in rails on one input.
    fn eval(&self, input: regorus::Value, rails: &[usize]) -> Result<Vec<(usize, Value)>, String> {
        let vm = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut vm = match vm {
            Some(vm) => vm,
            None => {
                let mut vm = regorus::rvm::vm::RegoVM::new();
                vm.load_program(self.program.clone());
                vm.set_data(self.data.clone()).map_err(|e| e.to_string())?;
                vm.set_execution_timer_config(Some(self.timer));
                vm
            }
        };
        vm.set_input(input);
        let mut out = Vec::with_capacity(rails.len());
        let mut result = Ok(());
        for &i in rails {
            match vm.execute_entry_point_by_name(&entry_point(i)) {
                Ok(v) => out.push((i, serde_json::to_value(&v).unwrap_or(Value::Null))),
                Err(e) => {
                    result = Err(e.to_string());
                    break;
                }
            }
        }
        if let Ok(mut p) = self.pool.lock() {
            p.push(vm);
        }
        result.map(|()| out)
    }
}

fn entry_point(i: usize) -> String {
    format!("data.{}.findings", render::package(i))
}

#[derive(Debug, Clone)]
struct Custom {
    /// Loaded, with the intent as data, and analysed (its clones evaluate
    /// without analysing the policies again).
    engine: regorus::Engine,
    files: Vec<PolicyFile>,
    namespaces: Vec<String>,
    combine: bool,
    /// Whether a policy mentions `bearing` (so may read `data.bearing`'s
    /// plans, outcomes and change): only then is the decision's context added,
    /// which makes regorus analyse the policies again for that decision.
    reads_context: bool,
    /// Whether a policy mentions `conftest` (so may read `data.conftest.file`):
    /// only then is each input's file added as data, which makes regorus
    /// analyse the policies again per file.
    reads_file: bool,
    /// The time all of this guardrail's queries of one decision may take.
    eval_time: Duration,
}

/// The compiled guardrails of one intent. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The rendered built-in modules, `(file name, text)`; empty without built-ins.
    sources: Arc<Vec<(String, String)>>,
    /// The same in regorus' interpreter (OPA data API, the VM's compiler),
    /// parsed at first use: a decision the native forms answer needs neither.
    builtin: Arc<OnceLock<Result<regorus::Engine, String>>>,
    /// The same modules on regorus' VM, compiled at the first decision that needs it.
    vm: Arc<OnceLock<Result<Vm, String>>>,
    /// `data` of the built-in modules (the intent).
    data: regorus::Value,
    /// Evaluate built-ins on Rego only, never natively (for comparing the two).
    rego_only: bool,
    rails: Vec<Rail>,
    waivers: Vec<Waiver>,
    default_plans: BTreeMap<String, Value>,
    teams: BTreeMap<String, String>,
    timezones: Vec<String>,
    revision: String,
    limits: Limits,
    /// The checkout the change was made in (`bearing check`'s repository
    /// root): a SARIF artifact's `file:` path under it is given relative to it.
    checkout: Option<Arc<PathBuf>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// regorus' execution timer for a time limit.
pub(crate) fn timer(limit: Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig {
        limit,
        check_interval: std::num::NonZeroU32::MIN.saturating_add(63),
    }
}

impl Engine {
    /// Renders and compiles every guardrail of the intent; custom policies are
    /// read relative to `root`. Any policy that does not parse refuses the
    /// whole engine.
    pub fn new(intent: &Intent, root: &Path) -> Result<Engine, GuardError> {
        Engine::with_limits(intent, root, Limits::default())
    }

    pub fn with_limits(intent: &Intent, root: &Path, limits: Limits) -> Result<Engine, GuardError> {
        let intent_json = serde_json::to_value(intent).unwrap_or(Value::Null);
        let data = regorus::Value::from(json!({"bearing": {"intent": intent_json}}));
        let mut rails = Vec::new();
        let mut hasher = Sha256::new();
        let mut sources = vec![("bearing/lib.rego".to_string(), render::LIB.to_string())];
        let mut aggregate = Vec::new();
        let mut timezones = Vec::new();
        for (i, g) in intent.guardrails.iter().enumerate() {
            let mut rail = Rail {
                id: g.id.clone(),
                kind: g.kind,
                objective: g.protects.clone(),
                mode: g.mode,
                scope: g.scope.clone(),
                module: None,
                native: None,
                custom: None,
            };
            if g.kind == GuardrailKind::Rego {
                let custom = load_custom(g, root, &data, &limits)?;
                for f in &custom.files {
                    hasher.update(f.path.as_bytes());
                    hasher.update(f.text.as_bytes());
                }
                hasher.update(custom.namespaces.join(",").as_bytes());
                rail.custom = Some(custom);
            } else {
                let module = render::render(g, i, intent)?;
                sources.push((format!("bearing/guardrails/{}.rego", g.id), module.clone()));
                if g.kind == GuardrailKind::ChangeWindow {
                    let tz = render::params(g, intent)?
                        .get("timezone")
                        .and_then(Value::as_str)
                        .unwrap_or("UTC")
                        .to_string();
                    if tz.parse::<chrono_tz::Tz>().is_err() {
                        return Err(GuardError::Param {
                            guardrail: g.id.clone(),
                            param: "timezone".into(),
                            expected: "an IANA time zone such as `Europe/Berlin`".into(),
                        });
                    }
                    timezones.push(tz);
                }
                hasher.update(module.as_bytes());
                rail.native = Native::new(g.kind, &render::params(g, intent)?);
                aggregate.push(format!("\t\"g{i}\": data.{}.findings,", render::package(i)));
                rail.module = Some(module);
            }
            rails.push(rail);
        }
        if aggregate.is_empty() {
            sources.clear();
        } else {
            sources.push((
                "bearing/decision.rego".into(),
                format!(
                    "package bearing.decision\n\nimport rego.v1\n\nfindings := {{\n{}\n}}\n",
                    aggregate.join("\n")
                ),
            ));
        }
        hasher.update(
            serde_json::to_string(&intent.waivers)
                .unwrap_or_default()
                .as_bytes(),
        );
        let revision = hex::encode(&hasher.finalize()[..8]);
        let default_plans = intent
            .services
            .iter()
            .map(|s| {
                let strategy = s.delivery.as_ref().map(|d| d.strategy).unwrap_or_default();
                (
                    s.id.clone(),
                    json!({"service": s.id, "strategy": strategy.name(), "freeze": false, "extra_gates": [], "reasons": ["intent"]}),
                )
            })
            .collect();
        let teams = intent
            .services
            .iter()
            .map(|s| (s.id.clone(), s.team.clone()))
            .collect();
        timezones.sort();
        timezones.dedup();
        Ok(Engine {
            sources: Arc::new(sources),
            builtin: Arc::new(OnceLock::new()),
            vm: Arc::new(OnceLock::new()),
            data,
            rego_only: false,
            rails,
            waivers: intent.waivers.clone(),
            default_plans,
            teams,
            timezones,
            revision,
            limits,
            checkout: None,
        })
    }

    /// The built-in modules in regorus' interpreter, parsed at the first call.
    fn interpreter(&self) -> Result<&regorus::Engine, String> {
        let built = self.builtin.get_or_init(|| {
            let mut engine = regorus::Engine::new();
            engine.set_execution_timer_config(timer(self.limits.eval_time));
            for (name, text) in self.sources.iter() {
                engine
                    .add_policy(name.clone(), text.clone())
                    .map_err(|e| conftest::policy_error(name, &e.to_string()).to_string())?;
            }
            engine
                .add_data(self.data.clone())
                .map_err(|e| e.to_string())?;
            Ok(engine)
        });
        built.as_ref().map_err(String::clone)
    }

    /// The same engine evaluating every built-in guardrail on its Rego
    /// module, never natively: what the native forms are checked against.
    pub fn rego_only(mut self) -> Engine {
        self.rego_only = true;
        self
    }

    /// The same engine locating SARIF findings whose artifact is a `file:`
    /// path under `root` relative to it (GitHub annotations want paths from
    /// the repository root).
    pub fn with_checkout(mut self, root: PathBuf) -> Engine {
        self.checkout = Some(Arc::new(root));
        self
    }

    /// Digest of the compiled policies and waivers.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// Guardrail ids with their rendered module (built-ins) or policy files (rego).
    pub fn modules(&self) -> Vec<(String, String)> {
        self.rails
            .iter()
            .map(|r| {
                let text = match (&r.module, &r.custom) {
                    (Some(m), _) => m.clone(),
                    (None, Some(c)) => c
                        .files
                        .iter()
                        .map(|f| {
                            format!(
                                "# file: {}{}\n{}",
                                f.path,
                                if f.rego_v0 { " (Rego v0)" } else { "" },
                                f.text
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                    (None, None) => String::new(),
                };
                (r.id.clone(), text)
            })
            .collect()
    }

    fn scope_applies(&self, scope: &Scope, env: &Envelope) -> bool {
        scope.service.as_ref().is_none_or(|s| *s == env.service)
            && scope
                .environment
                .as_ref()
                .is_none_or(|e| *e == env.environment)
            && scope
                .team
                .as_ref()
                .is_none_or(|t| self.teams.get(&env.service) == Some(t))
    }

    /// `input.context` / `data.bearing` of a decision: the given plans and
    /// outcomes, the risk, the time, and the clock of each change-window zone.
    fn context_json(
        &self,
        plans: Map<String, Value>,
        outcomes: Value,
        ctx: &Context,
        now: DateTime<Utc>,
    ) -> Value {
        let mut clocks = Map::new();
        for tz in &self.timezones {
            if let Ok(zone) = tz.parse::<chrono_tz::Tz>() {
                let (weekday, time, date) = native::clock(now, &zone);
                clocks.insert(
                    tz.clone(),
                    json!({"weekday": weekday, "time": time, "date": date}),
                );
            }
        }
        json!({
            "plans": plans,
            "outcomes": if outcomes.is_null() { json!({}) } else { outcomes },
            "risk": ctx.risk,
            "risk_reasons": ctx.risk_reasons,
            "risk_advisory": ctx.risk_advisory,
            "now": now.to_rfc3339(),
            "now_ns": now.timestamp_nanos_opt().unwrap_or(0),
            "clocks": clocks,
        })
    }

    /// Every service's plan: the store's, else the intent's default.
    fn all_plans(&self, ctx: &Context) -> Map<String, Value> {
        let mut plans: Map<String, Value> = self
            .default_plans
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, p) in &ctx.plans {
            plans.insert(k.clone(), serde_json::to_value(p).unwrap_or(Value::Null));
        }
        plans
    }

    /// The input of the built-in modules: the envelope, normalised, with the
    /// context of its service (the built-ins read only their own service's
    /// plan and outcomes).
    fn builtin_input(&self, view: &View<'_>, ctx: &Context) -> regorus::Value {
        let service = &view.env.service;
        let mut input = builtin_input(view.env);
        let plans = view
            .plan
            .map(|p| (service.clone(), p.clone()))
            .into_iter()
            .collect();
        let outcomes = view
            .outcome
            .map(|o| json!({"services": {service: o}}))
            .unwrap_or(Value::Null);
        let context = self.context_json(plans, outcomes, ctx, view.now);
        input.insert("context".into(), context);
        regorus::Value::from(Value::Object(input))
    }

    /// Evaluates every guardrail that applies to the envelope.
    pub fn decide(&self, env: &Envelope, ctx: &Context) -> Decision {
        self.decide_at(env, ctx, ctx.now)
    }

    /// [`Engine::decide`] at a given time instead of the context's (a server
    /// keeps one context per refresh and decides each request at its own time).
    pub fn decide_at(&self, env: &Envelope, ctx: &Context, now: DateTime<Utc>) -> Decision {
        self.decide_in(env, ctx, &ctx.service(&env.service), now)
    }

    /// [`Engine::decide_at`] with the service's part of the context already
    /// built (by [`Context::service`] on the same context); one built for
    /// another service is ignored.
    pub fn decide_in(
        &self,
        env: &Envelope,
        ctx: &Context,
        service: &ServiceContext,
        now: DateTime<Utc>,
    ) -> Decision {
        let started = Instant::now();
        let own;
        let service = if service.service == env.service {
            service
        } else {
            own = ctx.service(&env.service);
            &own
        };
        let input_digest = envelope_digest(env);
        // Attachments that are not what they were given as (say, state as
        // a plan) make the decision unknown.
        let mut errors = env.attachments.problems();
        let mut raw: Vec<(usize, Value, Effect)> = Vec::new();
        let applicable: Vec<usize> = (0..self.rails.len())
            .filter(|&i| self.scope_applies(&self.rails[i].scope, env))
            .collect();
        let input_size = env
            .attachments
            .all()
            .map(|(_, a)| approx_size(&a.content) + a.file.len())
            .sum::<usize>();
        if input_size > self.limits.max_input_bytes {
            errors.push(format!(
                "the change is too large to evaluate ({input_size} bytes; the limit is {})",
                self.limits.max_input_bytes
            ));
        } else {
            // Built-ins: natively where possible, the rest on the VM.
            let scans: Vec<Value> = env.attachments.scans.iter().map(normalize::scan).collect();
            let cost: Vec<Value> = env.attachments.cost.iter().map(normalize::cost).collect();
            // Plans and manifests are normalised only for the rails that read them.
            let applies = |kind: GuardrailKind| {
                !self.rego_only && applicable.iter().any(|&i| self.rails[i].kind == kind)
            };
            let plans: Vec<Value> = if applies(GuardrailKind::IamLeastPrivilege) {
                let plans = &env.attachments.terraform_plans;
                plans.iter().map(normalize::terraform).collect()
            } else {
                Vec::new()
            };
            let manifests: Vec<Value> = if applies(GuardrailKind::K8sBaseline) {
                let manifests = &env.attachments.manifests;
                manifests
                    .iter()
                    .map(|m| json!({"file": m.file, "documents": m.content}))
                    .collect()
            } else {
                Vec::new()
            };
            let view = View {
                env,
                plan: service
                    .plan
                    .as_ref()
                    .or_else(|| self.default_plans.get(&env.service)),
                outcome: ctx
                    .outcomes
                    .get("services")
                    .and_then(|s| s.get(&env.service)),
                risk: ctx.risk,
                risk_reasons: ctx.risk_reasons.as_deref(),
                risk_advisory: ctx.risk_advisory.as_deref(),
                now,
                scans: &scans,
                cost: &cost,
                plans: &plans,
                manifests: &manifests,
            };
            let mut on_vm = Vec::new();
            for &i in &applicable {
                let rail = &self.rails[i];
                if rail.module.is_none() {
                    continue;
                }
                match rail
                    .native
                    .as_ref()
                    .filter(|_| !self.rego_only)
                    .and_then(|n| n.eval(&view))
                {
                    Some(found) => raw.extend(found.into_iter().map(|(v, e)| (i, v, e))),
                    None if can_report(rail.kind, env) => on_vm.push(i),
                    None => {}
                }
            }
            if !on_vm.is_empty() {
                let vm = self.vm.get_or_init(|| {
                    let b = self.interpreter()?;
                    Vm::compile(b, &self.rails, self.data.clone(), &self.limits)
                });
                match vm
                    .as_ref()
                    .map_err(String::clone)
                    .and_then(|vm| vm.eval(self.builtin_input(&view, ctx), &on_vm))
                {
                    Ok(found) => {
                        for (i, f) in found {
                            for (key, effect) in [
                                ("deny", Effect::Deny),
                                ("warn", Effect::Warn),
                                ("unknown", Effect::Unknown),
                            ] {
                                for item in
                                    f.get(key).and_then(Value::as_array).into_iter().flatten()
                                {
                                    raw.push((i, item.clone(), effect));
                                }
                            }
                        }
                    }
                    Err(e) => errors.push(format!("built-in guardrails: {e}")),
                }
            }
            let mut context = None;
            for &i in &applicable {
                if let Some(custom) = &self.rails[i].custom {
                    let (context, envelope_json) = context.get_or_insert_with(|| {
                        (
                            self.context_json(self.all_plans(ctx), ctx.outcomes.clone(), ctx, now),
                            serde_json::to_value(env).unwrap_or(Value::Null),
                        )
                    });
                    // A panic inside regorus is this guardrail's error, not the process's.
                    let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        eval_custom(custom, env, context, envelope_json)
                    }))
                    .unwrap_or_else(|_| Err("the Rego evaluator failed on this policy".into()));
                    match evaluated {
                        Ok(found) => raw.extend(found.into_iter().map(|(v, e)| (i, v, e))),
                        Err(e) => errors.push(format!("guardrail `{}`: {e}", self.rails[i].id)),
                    }
                }
            }
        }
        // One order for findings however they were evaluated (Rego's are a set).
        raw.sort_by_cached_key(|(i, item, effect)| {
            let text = |k: &str| item.get(k).map(Value::to_string).unwrap_or_default();
            let at = item.get("at").map(digest).unwrap_or_default();
            (*i, text("rule"), text("msg"), at, effect_rank(*effect))
        });
        raw.dedup();
        let plan = ctx.plans.get(&env.service);
        let today = now.date_naive();
        let mut violations = Vec::new();
        let mut per_rail: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, item, effect) in raw {
            let rail = &self.rails[i];
            let n = per_rail.entry(i).or_default();
            *n += 1;
            if *n > self.limits.max_findings {
                continue;
            }
            violations.push(self.violation(rail, &item, effect, env, plan, today));
        }
        for (i, n) in per_rail {
            if n > self.limits.max_findings {
                let rail = &self.rails[i];
                errors.push(format!(
                    "guardrail `{}` reported {n} findings; only the first {} are listed",
                    rail.id, self.limits.max_findings
                ));
            }
        }
        violations.sort_by(|a, b| {
            effect_rank(b.effect)
                .cmp(&effect_rank(a.effect))
                .then_with(|| a.guardrail.cmp(&b.guardrail))
        });
        let expired_waivers = self
            .waivers
            .iter()
            .filter(|w| w.is_expired(today) && self.scope_applies(&w.scope, env))
            .filter(|w| applicable.iter().any(|&i| self.rails[i].id == w.guardrail))
            .map(|w| ExpiredWaiver {
                guardrail: w.guardrail.clone(),
                owner: w.owner.clone(),
                ticket: w.ticket.clone(),
                expired: w.expires,
            })
            .collect();
        let mut result = violations
            .iter()
            .map(|v| match v.effect {
                Effect::Deny => Verdict::Deny,
                Effect::Unknown => Verdict::Unknown,
                Effect::Warn => Verdict::Warn,
                Effect::Audit => Verdict::Allow,
            })
            .max()
            .unwrap_or(Verdict::Allow);
        if !errors.is_empty() && result < Verdict::Unknown {
            result = Verdict::Unknown;
        }
        Decision {
            id: decision_id(now),
            time: now,
            result,
            violations,
            expired_waivers,
            evaluated: applicable
                .iter()
                .map(|&i| self.rails[i].id.clone())
                .collect(),
            errors,
            input_digest,
            policy_revision: self.revision.clone(),
            elapsed_us: started.elapsed().as_micros() as u64,
            context: service.replay.clone(),
        }
    }

    fn violation(
        &self,
        rail: &Rail,
        item: &Value,
        effect: Effect,
        env: &Envelope,
        plan: Option<&DeliveryPlan>,
        today: chrono::NaiveDate,
    ) -> Violation {
        let s = |k: &str| item.get(k).and_then(Value::as_str).map(String::from);
        let rule = s("rule").unwrap_or_else(|| rail.kind.name().to_string());
        let message = s("msg").unwrap_or_default();
        let mut location = item.get("at").and_then(|at| {
            let kind = at.get("kind")?.as_str()?;
            let index = at.get("index")?.as_u64()? as usize;
            let pointer = at.get("pointer").and_then(Value::as_str).unwrap_or("");
            let a = env.attachments.get(kind, index)?;
            let [line, column] = a.location_of(pointer).unwrap_or([0, 0]);
            Some(Location {
                file: a.file.clone(),
                line,
                column,
            })
        });
        // A SARIF result is located in its artifact, and also in the report.
        let mut related_locations = Vec::new();
        if let Some(artifact) = item.get("at").and_then(|at| {
            crate::normalize::sarif_artifact_location(
                &env.attachments,
                at,
                self.checkout.as_deref().map(PathBuf::as_path),
            )
        }) {
            related_locations.extend(location.replace(artifact));
        }
        // A plan's extra gates enforce guardrails that are otherwise warn/audit.
        let gated = plan.is_some_and(|p| {
            p.extra_gates
                .iter()
                .any(|g| *g == rail.id || g == rail.kind.name())
        });
        let mode = if gated { Mode::Enforce } else { rail.mode };
        let waiver = self
            .waivers
            .iter()
            .filter(|w| w.guardrail == rail.id && !w.is_expired(today))
            .filter(|w| self.scope_applies(&w.scope, env))
            .find(|w| {
                w.rules.is_empty()
                    || w.rules
                        .iter()
                        .any(|r| *r == rule || message.contains(r.as_str()))
            })
            .map(|w| AppliedWaiver {
                owner: w.owner.clone(),
                reason: w.reason.clone(),
                ticket: w.ticket.clone(),
                expires: w.expires,
            });
        let effect = match (mode, effect, &waiver) {
            (_, _, Some(_)) | (Mode::Audit, _, _) | (_, Effect::Audit, _) => Effect::Audit,
            (Mode::Warn, Effect::Deny | Effect::Unknown, _) => Effect::Warn,
            (_, e, _) => e,
        };
        Violation {
            guardrail: rail.id.clone(),
            kind: rail.kind.name().to_string(),
            rule,
            objective: rail.objective.clone(),
            mode,
            effect,
            severity: s("severity").unwrap_or_else(|| "medium".into()),
            message,
            location,
            related_locations,
            remediation: s("remediation").filter(|r| !r.is_empty()),
            waiver,
        }
    }

    /// Evaluates `data.<path>` (slashes or dots) against the built-in policies
    /// with the given input, answering as OPA's data API does:
    /// `{"result": value}`, or `{}` when the document is undefined.
    pub fn eval_data(&self, path: &str, input: Value) -> Result<Value, GuardError> {
        let path = path.trim_matches('/').replace('/', ".");
        let valid = path.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !path.is_empty() && !valid {
            return Err(GuardError::Eval(format!(
                "invalid data path `{path}`: expected names separated by `/` or `.`"
            )));
        }
        if self.sources.is_empty() {
            return Ok(json!({}));
        }
        let mut engine = self.interpreter().map_err(GuardError::Eval)?.clone();
        engine.set_input(regorus::Value::from(input));
        let query = if path.is_empty() {
            "data".to_string()
        } else {
            format!("data.{path}")
        };
        let results = engine
            .eval_query(query, false)
            .map_err(|e| GuardError::Eval(e.to_string()))?;
        match results.result.first().and_then(|r| r.expressions.first()) {
            Some(e) => Ok(json!({"result": serde_json::to_value(&e.value).unwrap_or(Value::Null)})),
            None => Ok(json!({})),
        }
    }
}

/// A new decision id: `dec_`, the time in milliseconds (12 hex digits, so
/// ids sort by time and the log's index grows at its end), then 16 hex digits
/// unique to this process (a random start plus a counter).
fn decision_id(now: DateTime<Utc>) -> String {
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // The standard library seeds every `RandomState` from the OS.
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    format!("dec_{ms:012x}{:016x}", start.wrapping_add(n))
}

impl Context {
    /// Rebuilds the context a logged decision was made with; `time` is the
    /// decision's (records logged before the context left it out kept it as
    /// `now`).
    pub fn from_replay(v: &Value, time: DateTime<Utc>) -> Context {
        Context {
            plans: v
                .get("plans")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .unwrap_or_default(),
            outcomes: v.get("outcomes").cloned().unwrap_or(Value::Null),
            risk: v.get("risk").and_then(Value::as_f64),
            risk_reasons: v
                .get("risk_reasons")
                .and_then(Value::as_str)
                .map(str::to_string),
            risk_advisory: v
                .get("risk_advisory")
                .and_then(Value::as_str)
                .map(str::to_string),
            now: v
                .get("now")
                .and_then(|n| serde_json::from_value(n.clone()).ok())
                .unwrap_or(time),
        }
    }
}

fn effect_rank(e: Effect) -> u8 {
    match e {
        Effect::Deny => 3,
        Effect::Unknown => 2,
        Effect::Warn => 1,
        Effect::Audit => 0,
    }
}

fn load_custom(
    g: &Guardrail,
    root: &Path,
    data: &regorus::Value,
    limits: &Limits,
) -> Result<Custom, GuardError> {
    let params = render::params(g, &Intent::default())?;
    let Some(rel) = &g.path else {
        return Err(GuardError::Param {
            guardrail: g.id.clone(),
            param: "path".into(),
            expected: "a file or folder of .rego policies".into(),
        });
    };
    let path = root.join(rel);
    let files = conftest::rego_files(&path)?;
    if files.is_empty() {
        return Err(GuardError::Param {
            guardrail: g.id.clone(),
            param: "path".into(),
            expected: format!("a folder with .rego files (`{}` has none)", path.display()),
        });
    }
    let version = params.get("rego_version").and_then(Value::as_str);
    let (mut engine, files) = conftest::load_engine(&files, version)?;
    engine.set_execution_timer_config(timer(limits.eval_time));
    engine
        .add_data(data.clone())
        .map_err(|e| GuardError::Eval(e.to_string()))?;
    let namespaces = if params.get("all_namespaces").and_then(Value::as_bool) == Some(true) {
        conftest::packages(&files)
    } else {
        params
            .get("namespaces")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_else(|| vec!["main".to_string()])
    };
    conftest::analyse(&mut engine, &files)?;
    Ok(Custom {
        engine,
        reads_context: files.iter().any(|f| f.text.contains("bearing")),
        reads_file: files.iter().any(|f| f.text.contains("conftest")),
        eval_time: limits.eval_time,
        files,
        namespaces,
        combine: params.get("combine").and_then(Value::as_bool) == Some(true),
    })
}

/// Where a Conftest input came from: attachment kind, index, pointer prefix.
type Origin = Option<(&'static str, usize, String)>;

/// The documents of one file as Conftest sees them: each element of a
/// top-level array (a multi-document YAML file, a JSON list), else the file.
pub(crate) fn documents(content: &Value) -> Vec<&Value> {
    match content {
        Value::Array(docs) => docs.iter().collect(),
        other => vec![other],
    }
}

/// The Conftest inputs of an envelope: one per document, or with `combine`
/// one array of `{path, contents}` per document, sorted by path.
fn conftest_inputs(env: &Envelope, combine: bool, envelope_json: &Value) -> Vec<(Value, Origin)> {
    let a = &env.attachments;
    if a.is_empty() {
        // A change without files: the policy sees the envelope itself.
        return vec![(envelope_json.clone(), None)];
    }
    if combine {
        let mut items: Vec<(&str, &Value)> = a
            .all()
            .flat_map(|(_, att)| {
                documents(&att.content)
                    .into_iter()
                    .map(|d| (att.file.as_str(), d))
            })
            .collect();
        items.sort_by(|x, y| x.0.cmp(y.0));
        let items = items
            .into_iter()
            .map(|(path, contents)| json!({"path": path, "contents": contents}))
            .collect();
        return vec![(Value::Array(items), None)];
    }
    let mut out = Vec::new();
    for (kind, list) in [
        ("terraform_plans", &a.terraform_plans),
        ("manifests", &a.manifests),
        ("scans", &a.scans),
        ("cost", &a.cost),
    ] {
        for (i, att) in list.iter().enumerate() {
            match &att.content {
                Value::Array(docs) => {
                    for (d, doc) in docs.iter().enumerate() {
                        out.push((doc.clone(), Some((kind, i, format!("/{d}")))));
                    }
                }
                content => out.push((content.clone(), Some((kind, i, String::new())))),
            }
        }
    }
    out
}

fn eval_custom(
    custom: &Custom,
    env: &Envelope,
    context: &Value,
    envelope_json: &Value,
) -> Result<Vec<(Value, Effect)>, String> {
    let mut engine = custom.engine.clone();
    if custom.reads_context {
        engine
            .add_data(regorus::Value::from(json!({"bearing": {
                "plans": context["plans"],
                "outcomes": context["outcomes"],
                "risk": context["risk"],
                "risk_reasons": context["risk_reasons"],
                "risk_advisory": context["risk_advisory"],
                "now": context["now"],
                "change": envelope_summary(envelope_json),
            }})))
            .map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    let budget = conftest::Budget::new(custom.eval_time);
    // The engine with `data.conftest.file` of the current file, when read.
    let mut with_file: Option<(String, regorus::Engine)> = None;
    for (input, at) in conftest_inputs(env, custom.combine, envelope_json) {
        let file = match &at {
            Some((kind, index, _)) => env.attachments.get(kind, *index).map(|a| a.file.as_str()),
            None if custom.combine => Some("Combined"),
            None => None,
        };
        let engine = match file.filter(|_| custom.reads_file) {
            Some(file) => {
                if with_file.as_ref().is_none_or(|(f, _)| f != file) {
                    let mut e = engine.clone();
                    e.add_data(regorus::Value::from(
                        json!({"conftest": {"file": conftest::file_info(file)}}),
                    ))
                    .map_err(|e| e.to_string())?;
                    with_file = Some((file.to_string(), e));
                }
                match &mut with_file {
                    Some((_, e)) => e,
                    None => &mut engine,
                }
            }
            None => &mut engine,
        };
        engine.set_input(regorus::Value::from(input));
        for ns in &custom.namespaces {
            for o in conftest::eval_namespace(engine, &custom.files, ns, &budget)? {
                let mut item = json!({
                    "rule": o.rule,
                    "msg": o.message,
                    "severity": o.metadata.get("severity").cloned().unwrap_or(json!(if o.failure { "high" } else { "medium" })),
                    "remediation": o.metadata.get("remediation").or_else(|| o.metadata.get("fix")).cloned().unwrap_or(Value::Null),
                });
                if let Some((kind, index, pointer)) = &at {
                    item["at"] = json!({"kind": kind, "index": index, "pointer": pointer});
                }
                let effect = if o.excepted {
                    item["msg"] = json!(format!("(exception) {}", o.message));
                    Effect::Audit
                } else if o.failure {
                    Effect::Deny
                } else {
                    Effect::Warn
                };
                out.push((item, effect));
            }
        }
    }
    Ok(out)
}

/// The envelope without attachment contents (for `data.bearing.change`).
fn envelope_summary(envelope_json: &Value) -> Value {
    let mut v = envelope_json.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("attachments");
    }
    v
}

/// Writes `v` as JSON with every object's keys sorted.
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_to(out, k);
                out.push(b':');
                canonical(&m[*k], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        other => json_to(out, other),
    }
}

/// Appends a value's JSON (serde_json's own writing; a `Vec` cannot fail).
fn json_to<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(out, v);
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// SHA-256 of the canonical JSON (keys sorted) of a value.
pub fn digest(v: &Value) -> String {
    let mut out = Vec::new();
    canonical(v, &mut out);
    sha256_hex(&out)
}

/// [`digest`] of the envelope as the decision log records it (attachments
/// without their location index), written straight from the envelope.
pub fn envelope_digest(env: &Envelope) -> String {
    // Every field by name, so that a new one does not compile until it is
    // written here too.
    let Envelope {
        service,
        environment,
        version,
        commit,
        author,
        labels,
        change_size,
        strategy,
        checks,
        attachments: a,
    } = env;
    let mut out = Vec::with_capacity(256);
    // The envelope's keys in sorted order, each as `Envelope` serialises it
    // (optional ones only when present). Attachments: cost, manifests,
    // scans, terraform_plans, each `{"content", "file"}`.
    out.extend_from_slice(b"{\"attachments\":{");
    let lists = [
        ("cost", &a.cost),
        ("manifests", &a.manifests),
        ("scans", &a.scans),
        ("terraform_plans", &a.terraform_plans),
    ];
    for (j, (name, list)) in lists.iter().filter(|(_, l)| !l.is_empty()).enumerate() {
        if j > 0 {
            out.push(b',');
        }
        json_to(&mut out, name);
        out.extend_from_slice(b":[");
        for (n, att) in list.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"content\":");
            canonical(&att.content, &mut out);
            out.extend_from_slice(b",\"file\":");
            json_to(&mut out, &att.file);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
    macro_rules! field {
        ($key:literal, $value:expr) => {
            if let Some(v) = $value {
                out.extend_from_slice(concat!(",\"", $key, "\":").as_bytes());
                json_to(&mut out, v);
            }
        };
    }
    field!("author", author);
    field!("change_size", change_size);
    field!("checks", Some(checks).filter(|c| !c.is_empty()));
    field!("commit", commit);
    field!("environment", Some(environment));
    field!("labels", Some(labels));
    field!("service", Some(service));
    field!("strategy", strategy);
    field!("version", version);
    out.push(b'}');
    sha256_hex(&out)
}

fn approx_size(v: &Value) -> usize {
    match v {
        Value::Object(m) => {
            m.iter()
                .map(|(k, v)| k.len() + 4 + approx_size(v))
                .sum::<usize>()
                + 2
        }
        Value::Array(a) => a.iter().map(|v| approx_size(v) + 1).sum::<usize>() + 2,
        Value::String(s) => s.len() + 2,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope digest is the digest of the input the decision log keeps.
    #[test]
    fn envelope_digest_is_the_digest_of_the_logged_input() {
        let mut env = Envelope {
            service: "a".into(),
            environment: "prod".into(),
            labels: vec!["x".into()],
            strategy: Some("canary".into()),
            ..Envelope::default()
        };
        env.checks.insert("tests".into(), "passed".into());
        env.author = Some("ana \"q\"".into());
        env.commit = Some("abc".into());
        env.version = Some("1.2".into());
        env.change_size = Some(40);
        env.attachments.manifests.push(crate::Attachment::new(
            "m.yaml",
            json!([{"kind": "Pod", "metadata": {"name": "x"}}]),
        ));
        let plan = crate::Attachment::from_json_bytes(
            "p.json",
            br#"{"b": [1, {"z": 2, "a": null}], "a": "\u00e9"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.has_locations());
        env.attachments.terraform_plans.push(plan);
        env.attachments.cost.push(crate::Attachment::new(
            "c.json",
            json!({"totalMonthlyCost": "1"}),
        ));
        env.attachments
            .scans
            .push(crate::Attachment::new("s.json", json!([])));
        let engine =
            Engine::new(&Intent::default(), Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        let decision = engine.decide(&env, &Context::default());
        let logged = crate::to_record(&decision, &env).input;
        assert_eq!(decision.input_digest, digest(&logged));
        assert_eq!(
            envelope_digest(&Envelope::default()),
            digest(&serde_json::to_value(Envelope::default()).unwrap_or_default())
        );
    }

    /// The native forms answer for ordinary changes (so comparing them with
    /// the Rego modules in `tests/it/native.rs` compares something).
    #[test]
    fn native_forms_answer_ordinary_changes() {
        let intent: Intent = yaml_serde::from_str(
            "version: 1\nservices: [{id: a, team: t, delivery: {strategy: canary}}]\nteams: [{id: t}]\nguardrails:\n  - {id: c, kind: cost_budget, params: {max_monthly_increase: 10}}\n  - {id: v, kind: vulnerabilities, params: {max_age: 30d}}\n  - {id: e, kind: error_budget}\n  - {id: w, kind: change_window, params: {windows: [{days: [mon], from: '09:00'}], blackouts: [{from: '2026-01-01', to: '2026-01-02', reason: x}]}}\n  - {id: s, kind: deploy_strategy}\n  - {id: r, kind: required_checks}\n  - {id: k, kind: change_risk}\n  - {id: i, kind: iam_least_privilege}\n  - {id: k8s, kind: k8s_baseline}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let engine = Engine::new(&intent, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        let mut env = Envelope {
            service: "a".into(),
            environment: "prod".into(),
            ..Envelope::default()
        };
        env.attachments.scans.push(crate::Attachment::new(
            "t.json",
            json!({"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "PkgName": "p", "InstalledVersion": "1", "FixedVersion": "2", "Severity": "HIGH", "PublishedDate": "2020-01-01T00:00:00Z"}]}]}),
        ));
        env.attachments.cost.push(crate::Attachment::new(
            "i.json",
            json!({"currency": "USD", "totalMonthlyCost": "20", "pastTotalMonthlyCost": "5", "diffTotalMonthlyCost": "15"}),
        ));
        env.attachments.terraform_plans.push(crate::Attachment::new(
            "plan.json",
            json!({"format_version": "1.2", "resource_changes": [
                {"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy", "name": "p",
                 "change": {"actions": ["create"], "after": {"policy": "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}"}, "after_unknown": {}}},
                {"address": "aws_security_group.sg", "mode": "managed", "type": "aws_security_group", "name": "sg",
                 "change": {"actions": ["create"], "after": {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 22, "to_port": 22, "protocol": "tcp"}]}, "after_unknown": {}}}]}),
        ));
        env.attachments.manifests.push(crate::Attachment::new(
            "pod.yaml",
            json!([{"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}]),
        ));
        let scans: Vec<Value> = env.attachments.scans.iter().map(normalize::scan).collect();
        let cost: Vec<Value> = env.attachments.cost.iter().map(normalize::cost).collect();
        let plans: Vec<Value> = env
            .attachments
            .terraform_plans
            .iter()
            .map(normalize::terraform)
            .collect();
        let manifests: Vec<Value> = env
            .attachments
            .manifests
            .iter()
            .map(|m| json!({"file": m.file, "documents": m.content}))
            .collect();
        let outcome = json!({"error_budget_remaining": 0.5, "findings_past_sla": {"high": 1}});
        let view = View {
            env: &env,
            plan: engine.default_plans.get("a"),
            outcome: Some(&outcome),
            risk: Some(0.9),
            risk_reasons: None,
            risk_advisory: None,
            now: Utc::now(),
            scans: &scans,
            cost: &cost,
            plans: &plans,
            manifests: &manifests,
        };
        assert_eq!(engine.rails.len(), 9);
        for rail in &engine.rails {
            let native = rail
                .native
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no native form", rail.id));
            let found = native
                .eval(&view)
                .unwrap_or_else(|| panic!("{} did not answer", rail.id));
            if rail.id != "w" && rail.id != "e" {
                assert!(!found.is_empty(), "{} found nothing", rail.id);
            }
        }
    }
}

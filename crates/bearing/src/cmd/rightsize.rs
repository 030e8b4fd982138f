//! `bearing rightsize [--manifests DIR] [--write]`: the rightsizing rule's
//! recommendations from the stored requests and usage (OpenCost
//! allocations), with the SLO hold, and the edit of the Kubernetes manifests
//! that applies them: `file:line` of every value, a unified diff, and with
//! `--write` the files rewritten in place and one action per workload in the
//! action log (measured by `bearing reconcile` a window later).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::rightsize::{Candidate, action, candidates_per_pod};
use bearing_intent::{Duration, Scope};
use bearing_metrics::Dataset;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::common::{Global, Output};
use super::manifests::{self, Plan, PodInfo, Replicas, Sizing, Skipped};
use super::reconcile::{load_dataset, load_intent};

/// Recommend CPU and memory requests from usage, and patch manifests.
///
/// Per workload (OpenCost's allocation name, e.g. `shop/web/api` from
/// `aggregate=namespace,controller,container`): recommended requests per
/// pod = p95 CPU usage / peak memory usage per pod over the window + 15%,
/// at least 25m / 250Mi (docs/metrics.md), with the monthly saving of all
/// pods and the risk. OpenCost sums the pods of a workload; the pods are
/// the row's request ÷ the manifest's per-pod request (with a
/// HorizontalPodAutoscaler too), else its `replicas`; when they disagree
/// with a fixed `replicas` the workload is not placed (file:line given).
/// Without `--manifests` and without OpenCost's `properties.pod` the
/// figures are the totals of all pods. A cut is held (per resource: a raise
/// goes through) while the service's error budget burns or is below 25%. With
/// `--manifests`, prints each change as `file:line` and a unified diff of
/// the container's `resources` (limits keep their ratio to the request);
/// `--write` writes the files and records the actions. Workloads with no
/// (or several) matching containers are listed as not placed. Exit codes: 0
/// done, 1 a manifest is not valid YAML (listed with its line), 2 the
/// intent, store or folder cannot be read.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of Kubernetes manifests (`*.yaml`, `*.yml`, searched recursively).
    #[arg(long)]
    pub manifests: Option<PathBuf>,
    /// Write the edited manifests and record the actions (default: print the diff).
    #[arg(long, requires = "manifests")]
    pub write: bool,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// VerticalPodAutoscaler objects (YAML, with `status.recommendation`)
    /// whose targets are shown next to Bearing's, for comparison.
    #[arg(long)]
    pub vpa: Vec<PathBuf>,
    /// Usage window.
    #[arg(long, default_value = "14d")]
    pub window: Duration,
    /// Evaluate as of this time (RFC 3339 or YYYY-MM-DD, UTC; default now).
    #[arg(long, value_parser = super::report::parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let intent = load_intent(g)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let scope = Scope {
        service: args.service.clone(),
        ..Scope::default()
    };
    let rt = super::common::runtime()?;
    rt.block_on(async {
        let store = super::common::open_store(g).await?;
        let ds = load_dataset(&store, &intent).await?;
        let infos = match &args.manifests {
            Some(dir) => manifests::pod_infos(dir)?,
            None => Vec::new(),
        };
        let info_of = |w: &str| pod_info(&infos, w);
        let all = candidates_per_pod(&ds, &scope, &BTreeMap::new(), args.window, now, &|w| {
            info_of(w).map(|i| i.spec.clone())
        });
        let refused: Vec<Skipped> = all
            .iter()
            .filter_map(|c| disagrees(c, info_of(&c.sizing.workload)?))
            .collect();
        let placeable: Vec<Candidate> = all
            .iter()
            .filter(|c| refused.iter().all(|r| r.workload != c.sizing.workload))
            .cloned()
            .collect();
        let plan = match &args.manifests {
            Some(dir) => {
                let mut p = manifests::plan(dir, &sizings(&placeable), &[])?;
                p.skipped.extend(refused);
                Some(p)
            }
            None => None,
        };
        let mut recorded = Vec::new();
        if args.write
            && let Some(p) = &plan
        {
            for f in &p.files {
                std::fs::write(&f.path, &f.after)
                    .with_context(|| format!("cannot write `{}`", f.path.display()))?;
            }
            for a in actions(&ds, &placeable, p, args.window, now) {
                store
                    .put_action(&a)
                    .await
                    .with_context(|| format!("cannot store action `{}`", a.id))?;
                recorded.push(a);
            }
        }
        let mut vpa = Vec::new();
        for f in &args.vpa {
            vpa.extend(manifests::read_vpa(f)?);
        }
        print(&args, &all, plan.as_ref(), &recorded, &vpa)?;
        let incomplete = plan.as_ref().is_some_and(|p| !p.unreadable.is_empty());
        anyhow::Ok(if incomplete {
            ExitCode::from(super::EXIT_INVALID)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// The pod info of the one container a workload names, if exactly one.
fn pod_info<'a>(infos: &'a [PodInfo], workload: &str) -> Option<&'a PodInfo> {
    let mut found = infos.iter().filter(|i| {
        manifests::names_container(workload, i.namespace.as_deref(), &i.object, &i.container)
    });
    let one = found.next()?;
    found.next().is_none().then_some(one)
}

/// Refuses a workload whose pods are unknown, or whose stored requests are
/// not `replicas` times the manifest's per-pod request (within 10%): the
/// manifest is not what ran, so a per-pod size cannot be told.
fn disagrees(c: &Candidate, info: &PodInfo) -> Option<Skipped> {
    let r = &c.sizing;
    let Some(pods) = r.pods else {
        // no per-pod request and no fixed replicas (an HPA, a DaemonSet, …)
        return Some(Skipped {
            workload: r.workload.clone(),
            reason: format!(
                "the pod count is unknown: the container at {} requests nothing and its replicas vary; \
                 the stored requests are the total of all pods, so nothing is written (set a request)",
                info.spec.source
            ),
        });
    };
    let (n, at) = info.fixed.as_ref()?;
    if r.pods_from
        .as_deref()
        .is_some_and(|f| f.starts_with("OpenCost"))
        || (pods - n).abs() <= 0.1 * n
    {
        return None;
    }
    Some(Skipped {
        workload: r.workload.clone(),
        reason: format!(
            "the stored requests (CPU {}, memory {} in all) are {pods:.2} times the pod's request at {} but {at} runs {n} replica(s); \
             the manifest is not what ran, so the size per pod is unknown: check the request and `replicas`",
            manifests::format_cpu(r.cpu_request * pods),
            manifests::format_memory(r.ram_request * pods),
            info.spec.source
        ),
    })
}

/// A monthly amount with its sign, `0.00` when it rounds to zero.
fn signed_money(x: f64) -> String {
    if (x * 100.0).round() == 0.0 {
        "0.00".into()
    } else {
        format!("{x:+.2}")
    }
}

/// The new requests of every candidate worth applying.
pub fn sizings(all: &[Candidate]) -> Vec<Sizing> {
    all.iter()
        .filter(|c| c.actionable())
        .map(|c| Sizing {
            workload: c.sizing.workload.clone(),
            cpu: c.sizing.cpu_recommended,
            memory: c.sizing.ram_recommended,
        })
        .collect()
}

/// One action per workload the plan edits, with its edits as evidence.
pub fn actions(
    ds: &Dataset,
    all: &[Candidate],
    plan: &Plan,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<bearing_events::Action> {
    all.iter()
        .filter(|c| c.actionable())
        .filter_map(|c| {
            let edits: Vec<_> = plan
                .edits
                .iter()
                .filter(|e| e.workload == c.sizing.workload)
                .collect();
            (!edits.is_empty()).then(|| action(ds, c, "rightsize", window, now, json!(edits)))
        })
        .collect()
}

fn print(
    args: &Args,
    all: &[Candidate],
    plan: Option<&Plan>,
    recorded: &[bearing_events::Action],
    vpa: &[manifests::VpaTarget],
) -> anyhow::Result<()> {
    let vpa_of = |workload: &str| {
        vpa.iter().find(|t| {
            manifests::names_container(workload, t.namespace.as_deref(), &t.object, &t.container)
        })
    };
    if args.output == Output::Json {
        let compared: BTreeMap<&str, &manifests::VpaTarget> = all
            .iter()
            .filter_map(|c| vpa_of(&c.sizing.workload).map(|t| (c.sizing.workload.as_str(), t)))
            .collect();
        let mut v = json!({
            "window_seconds": args.window.as_secs(),
            "recommendations": all,
            "vpa": compared,
            "written": args.write,
            "actions": recorded,
        });
        if let (Some(p), Some(obj)) = (plan, v.as_object_mut()) {
            obj.extend(plan_json(p).as_object().cloned().unwrap_or_default());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if all.is_empty() {
        println!(
            "no workload has requests and usage in the last {} (ingest OpenCost allocations)",
            args.window
        );
    }
    for c in all {
        let r = &c.sizing;
        let vpa = vpa_of(&r.workload).map_or(String::new(), |t| {
            format!(
                "; VPA target {} / {}",
                t.cpu.map_or("–".into(), manifests::format_cpu),
                t.memory.map_or("–".into(), manifests::format_memory)
            )
        });
        let state = match &c.held {
            Some(why) if c.actionable() => {
                format!("{} risk; held: {}: {why}", r.risk, c.held_summary())
            }
            Some(why) => format!("held: {}: {why}", c.held_summary()),
            None if c.actionable() => format!("{} risk", r.risk),
            None => "unchanged".into(),
        };
        let per = match r.pods {
            Some(p) => format!("per pod, {p:.1} pod(s); "),
            None => "all pods together (pod count unknown: no manifest names the container, no OpenCost `properties.pod`); ".into(),
        };
        println!(
            "{} {}: CPU {} -> {}, memory {} -> {}, {} {}/month ({per}{state}; {} rows, {:.0} h{vpa})",
            if r.service.is_empty() {
                "(no service)"
            } else {
                &r.service
            },
            r.workload,
            manifests::format_cpu(r.cpu_request),
            manifests::format_cpu(r.cpu_recommended),
            manifests::format_memory(r.ram_request),
            manifests::format_memory(r.ram_recommended),
            signed_money(r.saving_per_month),
            r.currency.as_deref().unwrap_or(""),
            r.samples,
            r.hours
        );
    }
    let Some(p) = plan else { return Ok(()) };
    print_plan(p);
    if args.write {
        println!(
            "wrote {} file(s); {} action(s) recorded",
            p.files.len(),
            recorded.len()
        );
    }
    Ok(())
}

fn diff(p: &Plan) -> String {
    p.files
        .iter()
        .map(|f| bearing_workflow::diff::unified(&f.before, &f.after, &f.name))
        .collect()
}

/// Sizes again, per pod with the manifests' pod specs, the rightsizing
/// proposals of this pass that were sized without them (their `pods`
/// unknown): their requests and evidence are replaced; those whose stored
/// requests disagree with fixed `replicas` lose their requests and are
/// returned as not placed.
async fn size_per_pod(
    store: &bearing_store::DynStore,
    intent: &bearing_intent::Intent,
    actions: &mut [bearing_events::Action],
    infos: &[PodInfo],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Skipped>> {
    let to_size = |a: &bearing_events::Action| {
        a.status == bearing_events::ActionStatus::Proposed
            && a.created_at == now
            && a.change.as_ref().is_some_and(|c| {
                c.get("action").and_then(|x| x.as_str()) == Some("rightsize")
                    && c.get("pods").is_none_or(serde_json::Value::is_null)
            })
    };
    let mut refused = Vec::new();
    if !actions.iter().any(to_size) {
        return Ok(refused);
    }
    let ds = load_dataset(store, intent).await?;
    for a in actions.iter_mut().filter(|a| to_size(a)) {
        let (Some(change), Some(service)) = (a.change.as_mut(), a.service.clone()) else {
            continue;
        };
        let workload = change["workload"].as_str().unwrap_or_default().to_string();
        let Some(info) = pod_info(infos, &workload) else {
            continue;
        };
        let window = Duration::from_secs(a.evidence["window_seconds"].as_u64().unwrap_or(0));
        let scope = Scope {
            service: Some(service),
            ..Scope::default()
        };
        let filter = BTreeMap::from([(
            "workload".to_string(),
            bearing_intent::FilterValue::One(workload.clone()),
        )]);
        let Some(c) = candidates_per_pod(&ds, &scope, &filter, window, now, &|_| {
            Some(info.spec.clone())
        })
        .into_iter()
        .find(|c| c.sizing.workload == workload) else {
            continue;
        };
        if let Some(s) = disagrees(&c, info) {
            refused.push(s);
            if let Some(obj) = change.as_object_mut() {
                obj.remove("requests");
            }
            continue;
        }
        change["requests"] =
            json!({ "cpu": c.sizing.cpu_recommended, "memory": c.sizing.ram_recommended });
        change["pods"] = json!(c.sizing.pods);
        a.evidence["rightsizing"] = json!(c);
    }
    Ok(refused)
}

/// `bearing reconcile --manifests DIR`: writes the rightsizing proposals of
/// this pass into the manifests (per pod, see [`size_per_pod`]) and marks
/// each one placed as applied, with its edits (unless `dry_run`, which only
/// computes the plan).
pub async fn apply_proposals(
    store: &bearing_store::DynStore,
    intent: &bearing_intent::Intent,
    actions: &mut [bearing_events::Action],
    dir: &std::path::Path,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Plan> {
    use bearing_events::ActionStatus;
    let infos = manifests::pod_infos(dir)?;
    let refused = size_per_pod(store, intent, actions, &infos, now).await?;
    let proposal = |a: &bearing_events::Action| -> Option<Sizing> {
        let c = a.change.as_ref()?;
        if a.status != ActionStatus::Proposed
            || a.created_at != now
            || c.get("action")?.as_str()? != "rightsize"
        {
            return None;
        }
        Some(Sizing {
            workload: c.get("workload")?.as_str()?.to_string(),
            cpu: c.pointer("/requests/cpu")?.as_f64()?,
            memory: c.pointer("/requests/memory")?.as_f64()?,
        })
    };
    let replicas_of = |a: &bearing_events::Action| -> Option<Replicas> {
        let c = a.change.as_ref()?;
        if a.status != ActionStatus::Proposed
            || a.created_at != now
            || c.get("action")?.as_str()? != "scale"
        {
            return None;
        }
        Some(Replicas {
            target: c.get("target")?.as_str()?.to_string(),
            min: u32::try_from(c.get("min_replicas")?.as_u64()?).ok()?,
            max: u32::try_from(c.get("max_replicas")?.as_u64()?).ok()?,
            only_raise: c.get("only_raise")?.as_bool()?,
        })
    };
    let sizings: Vec<Sizing> = actions.iter().filter_map(proposal).collect();
    let replicas: Vec<Replicas> = actions.iter().filter_map(replicas_of).collect();
    let mut plan = manifests::plan(dir, &sizings, &replicas)?;
    plan.skipped.extend(refused);
    if dry_run {
        return Ok(plan);
    }
    for f in &plan.files {
        std::fs::write(&f.path, &f.after)
            .with_context(|| format!("cannot write `{}`", f.path.display()))?;
    }
    for a in actions.iter_mut() {
        let Some(key) = proposal(a)
            .map(|s| s.workload)
            .or_else(|| replicas_of(a).map(|r| r.target))
        else {
            continue;
        };
        let edits: Vec<_> = plan.edits.iter().filter(|e| e.workload == key).collect();
        if edits.is_empty() {
            continue;
        }
        a.status = ActionStatus::Applied;
        if let Some(c) = a.change.as_mut().and_then(|c| c.as_object_mut()) {
            c.insert("edits".into(), json!(edits));
        }
        store
            .put_action(a)
            .await
            .with_context(|| format!("cannot store action `{}`", a.id))?;
    }
    Ok(plan)
}

/// Prints the manifest edits and diff of a plan (text output).
pub fn print_plan(p: &Plan) {
    for e in &p.edits {
        let container = if e.container.is_empty() {
            String::new()
        } else {
            format!(" container {}", e.container)
        };
        println!(
            "{}:{}: {}{container}: {} {} -> {}",
            e.file,
            e.line,
            e.object,
            e.field,
            e.old.as_deref().unwrap_or("(none)"),
            e.new
        );
    }
    for s in &p.skipped {
        println!("not placed: {}: {}", s.workload, s.reason);
    }
    for u in &p.unreadable {
        println!("unreadable: {u}");
    }
    print!("{}", diff(p));
}

/// The plan as JSON (edits, skipped, unreadable files, diff).
pub fn plan_json(p: &Plan) -> serde_json::Value {
    json!({
        "edits": p.edits,
        "skipped": p.skipped,
        "unreadable": p.unreadable,
        "diff": diff(p),
    })
}

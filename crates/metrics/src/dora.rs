//! DORA metrics and the linking behind them.
//!
//! Linking (see `docs/metrics.md`, "Linking rules"):
//! - commit → deployment: the commits a successful deployment brings are the
//!   ones reachable from its head commit that no earlier, non-rolled-back
//!   deployment of the same service and environment shipped — by ancestry
//!   when the head's parents are known, otherwise the change list the event
//!   carries, otherwise the head commit alone. A squash or merge commit of a
//!   change that lists its own commits stands for those commits; a change's
//!   last listed commit (a push's head) stands for the list and is also a
//!   sample of its own.
//! - failures: a rollback marks the deployment it names (else the latest
//!   successful one before it); an unplanned (hotfix) deployment marks the
//!   deployment it links to (else the previous successful one); an incident
//!   marks the deployment it links to explicitly, else the latest successful
//!   deployment of its service and environment within the incident window
//!   before it opened, with a confidence.

use serde::{Deserialize, Serialize};

use crate::dataset::{Cause, Dataset, Derived, FxSet, IncLink, Lead, NONE, SvcData, Track, Ts};
use crate::engine::{Ctx, MetricValue, Rec, fmt_secs};
use crate::stats::quantile;

/// DORA performance level (2024 Accelerate State of DevOps report clusters;
/// see `docs/metrics.md` for the exact bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoraLevel {
    Elite,
    High,
    Medium,
    Low,
}

impl DoraLevel {
    pub fn name(self) -> &'static str {
        match self {
            DoraLevel::Elite => "elite",
            DoraLevel::High => "high",
            DoraLevel::Medium => "medium",
            DoraLevel::Low => "low",
        }
    }
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// The performance level of a DORA metric value (base units), if the
/// metric has published bands.
pub fn dora_level(metric: &str, value: f64) -> Option<DoraLevel> {
    use DoraLevel::*;
    let band = |cuts: [f64; 3], higher_better: bool| {
        let [a, b, c] = cuts;
        Some(if higher_better {
            if value >= a {
                Elite
            } else if value >= b {
                High
            } else if value >= c {
                Medium
            } else {
                Low
            }
        } else if value < a {
            Elite
        } else if value <= b {
            High
        } else if value <= c {
            Medium
        } else {
            Low
        })
    };
    match metric {
        // On demand (≥ 1/day) · daily–weekly · weekly–monthly · less often.
        "dora.deployment_frequency" => band([1.0, 1.0 / 7.0, 1.0 / 30.0], true),
        // < 1 day · ≤ 1 week · ≤ 1 month · longer.
        "dora.lead_time" | "dora.lead_time.p50" => band([DAY, 7.0 * DAY, 30.0 * DAY], false),
        // ≤ 5% · ≤ 15% · ≤ 30% · more (monotone reading, see docs).
        "dora.change_failure_rate" => Some(if value <= 0.05 {
            Elite
        } else if value <= 0.15 {
            High
        } else if value <= 0.30 {
            Medium
        } else {
            Low
        }),
        // < 1 hour · ≤ 1 day · ≤ 1 week · longer.
        "dora.recovery_time" => band([HOUR, DAY, 7.0 * DAY], false),
        _ => None,
    }
}

/// Rebuilds the failure marks, incident links and lead times of one service.
pub(crate) fn derive(ds: &mut Dataset, s: u32, data: &mut SvcData) {
    let prod = ds.prod_env(s);
    for t in &mut data.tracks {
        t.derived = vec![Derived::default(); t.deploys.len()];
        t.leads.clear();
        t.ok_idx = (0..t.deploys.len() as u32)
            .filter(|&i| t.deploys[i as usize].ok)
            .collect();
        t.ok_times = t
            .ok_idx
            .iter()
            .map(|&i| t.deploys[i as usize].time)
            .collect();
    }
    // Rollbacks.
    for rb in &data.rollbacks {
        let env = if rb.env == NONE { prod } else { rb.env };
        let Some(t) = data.tracks.iter_mut().find(|t| t.env == env) else {
            continue;
        };
        let named = (rb.dep_id != NONE)
            .then(|| find_deploy(ds, t, ds.dep_ids.get(rb.dep_id)))
            .flatten();
        let target = named.or_else(|| {
            let n = t.ok_times.partition_point(|&x| x <= rb.time);
            t.ok_idx[..n]
                .iter()
                .rev()
                .map(|&i| i as usize)
                .find(|&i| !t.derived[i].rolled_back)
        });
        if let Some(i) = target {
            mark(t, i, Cause::Rollback { ev: rb.ev }, rb.time, rb.ev);
            t.derived[i].rolled_back = true;
        }
    }
    // Unplanned (hotfix) deployments.
    let mut incident_fixes: Vec<(String, Ts, u32)> = Vec::new();
    for t in &mut data.tracks {
        for k in 0..t.ok_idx.len() {
            let h = t.ok_idx[k] as usize;
            let d = &t.deploys[h];
            let incident_link = d
                .links
                .iter()
                .find(|l| l.rel == "incident")
                .map(|l| l.target.clone());
            let fix_target = d
                .links
                .iter()
                .filter(|l| matches!(l.rel.as_str(), "fixes" | "caused_by" | "deployment"))
                .find_map(|l| find_deploy(ds, t, &l.target));
            if !d.unplanned && incident_link.is_none() {
                continue;
            }
            let (time, ev) = (d.time, d.ev);
            t.derived[h].rework = true;
            if let Some(key) = incident_link {
                incident_fixes.push((key, time, ev));
                continue;
            }
            let target = fix_target.or_else(|| (k > 0).then(|| t.ok_idx[k - 1] as usize));
            if let Some(i) = target
                && i != h
            {
                mark(t, i, Cause::Hotfix { ev }, time, ev);
            }
        }
    }
    // Incidents → deployments.
    let window = ds.incident_window;
    for &inc in &data.incidents {
        let r = &ds.incidents[inc as usize];
        let mut link: Option<(usize, usize, f64, bool)> = None;
        for l in &r.links {
            if !matches!(
                l.rel.as_str(),
                "caused_by" | "deployment" | "root_cause" | "cause"
            ) {
                continue;
            }
            for (ti, t) in data.tracks.iter().enumerate() {
                if let Some(i) = find_deploy(ds, t, &l.target) {
                    link = Some((ti, i, 1.0, true));
                    break;
                }
            }
            if link.is_some() {
                break;
            }
        }
        if link.is_none() {
            let env = if r.env == NONE { prod } else { r.env };
            let opened = r.opened_at();
            if let Some(ti) = data.tracks.iter().position(|t| t.env == env) {
                let t = &data.tracks[ti];
                let n = t.ok_times.partition_point(|&x| x <= opened);
                if n > 0 {
                    let i = t.ok_idx[n - 1] as usize;
                    let gap = opened - t.deploys[i].time;
                    if gap <= window && window > 0 {
                        let confidence = 0.9 - 0.6 * gap as f64 / window as f64;
                        link = Some((ti, i, (confidence * 100.0).round() / 100.0, false));
                    }
                }
            }
        }
        let mut linked = None;
        if let Some((ti, i, confidence, explicit)) = link {
            let t = &mut data.tracks[ti];
            linked = Some(IncLink {
                dep: t.deploys[i].ev,
                confidence,
                explicit,
            });
            let mut restore: Vec<(Ts, u32)> = Vec::new();
            if let Some(z) = r.resolved {
                restore.push((z, r.resolved_ev.0));
            }
            for (key, time, ev) in &incident_fixes {
                if *key == r.key {
                    restore.push((*time, *ev));
                }
            }
            let dep_time = t.deploys[i].time;
            let der = &mut t.derived[i];
            if der.failed.is_none() {
                der.failed = Some(Cause::Incident { inc });
            }
            for (time, ev) in restore {
                if time >= dep_time && der.restored.is_none_or(|(x, _)| time < x) {
                    der.restored = Some((time, ev));
                }
            }
        }
        ds.incidents[inc as usize].linked = linked;
    }
    // Lead times.
    for t in &mut data.tracks {
        derive_leads(ds, s, t);
    }
}

fn find_deploy(ds: &Dataset, t: &Track, id: &str) -> Option<usize> {
    t.deploys.iter().position(|d| {
        d.ok && ((d.dep_id != NONE && ds.dep_ids.get(d.dep_id) == id) || ds.id(d.ev) == id)
    })
}

fn mark(t: &mut Track, i: usize, cause: Cause, time: Ts, ev: u32) {
    let dep_time = t.deploys[i].time;
    let d = &mut t.derived[i];
    if d.failed.is_none() {
        d.failed = Some(cause);
    }
    if time >= dep_time && d.restored.is_none_or(|(x, _)| time < x) {
        d.restored = Some((time, ev));
    }
}

const WALK_LIMIT: usize = 100_000;

fn derive_leads(ds: &Dataset, s: u32, t: &mut Track) {
    let mut deployed: FxSet<u32> = FxSet::default();
    let mut has_prev = false;
    for k in 0..t.ok_idx.len() {
        let i = t.ok_idx[k] as usize;
        if t.derived[i].rolled_back {
            t.derived[i].lead_note =
                Some("rolled back: its commits count at the next deployment that stays");
            continue;
        }
        let d = &t.deploys[i];
        let listed = &ds.deploy_commits[d.commits.0 as usize..(d.commits.0 + d.commits.1) as usize];
        let ancestry = d.head != NONE && !ds.commits.parents_of(d.head).is_empty();
        let raw: Vec<u32> = if has_prev && ancestry {
            walk(ds, d.head, &deployed)
        } else if !listed.is_empty() {
            listed.to_vec()
        } else if d.head != NONE {
            vec![d.head]
        } else {
            Vec::new()
        };
        let mut seen = FxSet::default();
        let mut shipped = Vec::new();
        for c in raw {
            if deployed.contains(&c) || !seen.insert(c) {
                continue;
            }
            let sq = ds.commits.recs[c as usize].squash_of;
            if sq == NONE {
                shipped.push(c);
            } else {
                for &x in &ds.commits.changes[sq as usize].commits {
                    if x == c {
                        // A listed head is a real commit: its own sample.
                        shipped.push(c);
                    } else if !deployed.contains(&x) && seen.insert(x) {
                        shipped.push(x);
                    }
                }
            }
        }
        // A monorepo's commits count for the services whose paths they touch.
        let before = shipped.len();
        shipped.retain(|c| ds.commit_svcs.get(c).is_none_or(|(_, v)| v.contains(&s)));
        let elsewhere = before - shipped.len();
        let start = t.leads.len() as u32;
        let mut unknown = 0;
        for &c in &shipped {
            match ds.commits.recs[c as usize].authored {
                Some(a) => t.leads.push(Lead {
                    commit: c,
                    secs: (d.time - a).max(0) as f64,
                }),
                None => unknown += 1,
            }
        }
        let n = t.leads.len() as u32 - start;
        t.derived[i].lead = (start, n);
        if n == 0 {
            t.derived[i].lead_note = Some(if raw_is_empty(d.head, listed) {
                "the deployment names no commits"
            } else if unknown > 0 {
                "its commits' authoring times are unknown (no change event)"
            } else if elsewhere > 0 {
                "no new commits under the service's paths since the previous deployment"
            } else {
                "no new commits since the previous deployment"
            });
        }
        deployed.extend(seen);
        has_prev = true;
    }
}

fn raw_is_empty(head: u32, listed: &[u32]) -> bool {
    head == NONE && listed.is_empty()
}

/// Commits reachable from `head` that were not deployed before.
fn walk(ds: &Dataset, head: u32, deployed: &FxSet<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![head];
    let mut visited = FxSet::default();
    while let Some(c) = stack.pop() {
        if deployed.contains(&c) || !visited.insert(c) || visited.len() > WALK_LIMIT {
            continue;
        }
        out.push(c);
        stack.extend_from_slice(ds.commits.parents_of(c));
    }
    out
}

/// The deployment tracks a scope covers: per service, the scope's
/// environment or the service's production environment.
pub(crate) fn tracks<'a>(ctx: &Ctx<'a>) -> Vec<(u32, &'a Track)> {
    let ds = ctx.ds;
    let env = ctx.scope.environment.as_deref();
    ds.services_in(ctx.scope)
        .into_iter()
        .filter_map(|s| {
            let e = match env {
                Some(name) => ds.envs.get(name)?,
                None => ds.prod_env(s),
            };
            ds.data[s as usize].track(e).map(|t| (s, t))
        })
        .collect()
}

/// Successful deployments of a track inside `(from, to]`.
pub(crate) fn in_window(t: &Track, from: Ts, to: Ts) -> &[u32] {
    let a = t.ok_times.partition_point(|&x| x <= from);
    let b = t.ok_times.partition_point(|&x| x <= to);
    &t.ok_idx[a..b.max(a)]
}

fn rec(t: &Track, s: u32, i: usize) -> Rec {
    Rec {
        ev: t.deploys[i].ev,
        time: t.deploys[i].time,
        svc: s,
        env: t.env,
        value: None,
        confidence: None,
    }
}

pub(crate) fn deployment_frequency(ctx: &mut Ctx<'_>) -> MetricValue {
    let ts = tracks(ctx);
    let mut count = 0usize;
    let mut ever = false;
    for &(s, t) in &ts {
        ever |= !t.ok_idx.is_empty();
        for &i in in_window(t, ctx.from, ctx.to) {
            count += 1;
            ctx.tr.add(ctx.ds, rec(t, s, i as usize), || {
                "deployment counted".to_string()
            });
        }
    }
    let days = (ctx.to - ctx.from) as f64 / DAY;
    let mut v = ctx.value(ever.then(|| count as f64 / days), count);
    if !ever {
        v.note = Some("no deployments recorded for this scope".into());
    }
    v
}

pub(crate) fn lead_time(ctx: &mut Ctx<'_>, q: f64) -> MetricValue {
    let ts = tracks(ctx);
    let mut samples = Vec::new();
    let full = ctx.tr.is_full();
    for &(s, t) in &ts {
        for &i in in_window(t, ctx.from, ctx.to) {
            let i = i as usize;
            let der = &t.derived[i];
            let leads = &t.leads[der.lead.0 as usize..(der.lead.0 + der.lead.1) as usize];
            samples.extend(leads.iter().map(|l| l.secs));
            let note = der.lead_note;
            ctx.tr.add(ctx.ds, rec(t, s, i), || match note {
                Some(n) => format!("deployment, no lead-time sample: {n}"),
                None => format!("deployment shipping {} commit(s)", leads.len()),
            });
            if full {
                for l in leads {
                    let c = &ctx.ds.commits.recs[l.commit as usize];
                    if c.ev == NONE {
                        continue;
                    }
                    let sha = ctx.ds.commits.sha(l.commit);
                    let mut r = rec(t, s, i);
                    r.ev = c.ev;
                    r.time = c.authored.unwrap_or(r.time);
                    r.value = Some(l.secs);
                    ctx.tr.add(ctx.ds, r, || {
                        format!(
                            "commit {} lead time {}",
                            &sha[..sha.len().min(8)],
                            fmt_secs(l.secs)
                        )
                    });
                }
            }
        }
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, q), n)
}

fn failure_role(ds: &Dataset, d: &Derived) -> String {
    match d.failed {
        None => "deployment, no remediation needed".into(),
        Some(Cause::Rollback { ev }) => format!("failed: rolled back by {}", ds.id(ev)),
        Some(Cause::Hotfix { ev }) => format!("failed: fixed by hotfix deployment {}", ds.id(ev)),
        Some(Cause::Incident { inc }) => {
            let r = &ds.incidents[inc as usize];
            match r.linked {
                Some(l) if l.explicit => {
                    format!("failed: incident {} linked by explicit link", r.key)
                }
                Some(l) => format!(
                    "failed: incident {} linked by window with confidence {}",
                    r.key, l.confidence
                ),
                None => format!("failed: incident {}", r.key),
            }
        }
    }
}

pub(crate) fn change_failure_rate(ctx: &mut Ctx<'_>) -> MetricValue {
    let ts = tracks(ctx);
    let (mut n, mut failed) = (0usize, 0usize);
    for &(s, t) in &ts {
        for &i in in_window(t, ctx.from, ctx.to) {
            let i = i as usize;
            n += 1;
            let der = &t.derived[i];
            if der.failed.is_some() {
                failed += 1;
            }
            let mut r = rec(t, s, i);
            r.confidence = match der.failed {
                Some(Cause::Incident { inc }) => {
                    ctx.ds.incidents[inc as usize].linked.map(|l| l.confidence)
                }
                _ => None,
            };
            ctx.tr.add(ctx.ds, r, || failure_role(ctx.ds, der));
        }
    }
    ctx.value((n > 0).then(|| failed as f64 / n as f64), n)
}

pub(crate) fn recovery_time(ctx: &mut Ctx<'_>) -> MetricValue {
    let ts = tracks(ctx);
    let mut samples = Vec::new();
    let mut unresolved = 0;
    for &(s, t) in &ts {
        for &i in in_window(t, ctx.from, ctx.to) {
            let i = i as usize;
            let der = &t.derived[i];
            if der.failed.is_none() {
                continue;
            }
            match der.restored {
                Some((time, ev)) if time <= ctx.to => {
                    let secs = (time - t.deploys[i].time) as f64;
                    samples.push(secs);
                    let mut r = rec(t, s, i);
                    r.value = Some(secs);
                    ctx.tr.add(ctx.ds, r, || {
                        format!("failed deployment, recovered in {}", fmt_secs(secs))
                    });
                    let restore = Rec {
                        ev,
                        time,
                        svc: s,
                        env: t.env,
                        value: None,
                        confidence: None,
                    };
                    ctx.tr.add(ctx.ds, restore, || "restored service".into());
                }
                _ => {
                    unresolved += 1;
                    ctx.tr.add(ctx.ds, rec(t, s, i), || {
                        "failed deployment, not yet recovered (not counted)".into()
                    });
                }
            }
        }
    }
    let n = samples.len();
    let mut v = ctx.value(quantile(&mut samples, 0.5), n);
    if unresolved > 0 {
        v.note = Some(format!(
            "{unresolved} failed deployment(s) not yet recovered"
        ));
    }
    v
}

pub(crate) fn rework_rate(ctx: &mut Ctx<'_>) -> MetricValue {
    let ts = tracks(ctx);
    let (mut n, mut rework) = (0usize, 0usize);
    for &(s, t) in &ts {
        for &i in in_window(t, ctx.from, ctx.to) {
            let i = i as usize;
            n += 1;
            let is = t.derived[i].rework;
            rework += usize::from(is);
            ctx.tr.add(ctx.ds, rec(t, s, i), || {
                if is {
                    "unplanned deployment (hotfix / linked to an incident)".into()
                } else {
                    "planned deployment".into()
                }
            });
        }
    }
    ctx.value((n > 0).then(|| rework as f64 / n as f64), n)
}

/// Successful production deployments of a scope in a window (for cost per deployment).
pub(crate) fn deploy_count(ctx: &Ctx<'_>) -> usize {
    tracks(ctx)
        .iter()
        .map(|(_, t)| in_window(t, ctx.from, ctx.to).len())
        .sum()
}

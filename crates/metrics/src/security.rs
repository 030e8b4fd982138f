//! Security, incident and pipeline metrics: open findings by severity and
//! age, findings past their SLA, time to remediate, guardrail compliance
//! from decisions, incident acknowledge/resolve times, pipeline success and
//! duration.

use crate::dataset::{FindingAgg, NONE, Ts, to_time};
use crate::engine::{Ctx, MetricValue, Rec, fmt_secs};
use crate::explain::TracedRecord;
use crate::stats::{mean, quantile};

fn env_ok(ctx: &Ctx<'_>, env: u32) -> bool {
    match ctx.scope.environment.as_deref() {
        None => true,
        Some(name) => ctx.ds.env_name(env) == Some(name),
    }
}

pub(crate) fn pipeline_success(ctx: &mut Ctx<'_>) -> MetricValue {
    let (mut n, mut ok) = (0usize, 0usize);
    for s in ctx.ds.services_in(ctx.scope) {
        for p in pipelines(ctx, s) {
            n += 1;
            ok += usize::from(p.ok);
            let r = Rec {
                ev: p.ev,
                time: p.time,
                svc: s,
                env: p.env,
                value: None,
                confidence: None,
            };
            let okp = p.ok;
            ctx.tr.add(ctx.ds, r, || {
                if okp { "run succeeded" } else { "run failed" }.into()
            });
        }
    }
    ctx.value((n > 0).then(|| ok as f64 / n as f64), n)
}

/// Finished runs of a service in the window, matching scope and filter.
fn pipelines<'a>(ctx: &Ctx<'a>, s: u32) -> Vec<&'a crate::dataset::PipeRec> {
    let want = ctx.filter_values("pipeline");
    let ds = ctx.ds;
    let runs = &ds.data[s as usize].pipelines;
    let a = runs.partition_point(|p| p.time <= ctx.from);
    let b = runs.partition_point(|p| p.time <= ctx.to);
    runs[a..b.max(a)]
        .iter()
        .filter(|p| p.finished && env_ok(ctx, p.env))
        .filter(|p| {
            want.as_ref()
                .is_none_or(|w| w.contains(&ds.names.name(p.name)))
        })
        .collect()
}

pub(crate) fn pipeline_duration(ctx: &mut Ctx<'_>, q: f64) -> MetricValue {
    let mut samples = Vec::new();
    for s in ctx.ds.services_in(ctx.scope) {
        for p in pipelines(ctx, s) {
            let Some(d) = p.duration else { continue };
            samples.push(d);
            let r = Rec {
                ev: p.ev,
                time: p.time,
                svc: s,
                env: p.env,
                value: Some(d),
                confidence: None,
            };
            ctx.tr
                .add(ctx.ds, r, || format!("run took {}", fmt_secs(d)));
        }
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, q), n)
}

fn finding_matches(ctx: &Ctx<'_>, f: &FindingAgg) -> bool {
    let sev = ctx
        .filter_values("severity")
        .is_none_or(|w| w.contains(&f.severity.name()));
    let scanner = ctx
        .filter_values("scanner")
        .is_none_or(|w| w.contains(&f.scanner.as_str()));
    let kind = ctx.filter_values("kind").is_none_or(|w| {
        let k = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        w.contains(&k.as_str())
    });
    sev && scanner && kind
}

pub(crate) fn findings_in<'a>(ctx: &Ctx<'a>) -> Vec<&'a FindingAgg> {
    let ds = ctx.ds;
    let mut out: Vec<&FindingAgg> = ds
        .services_in(ctx.scope)
        .into_iter()
        .flat_map(|s| ds.data[s as usize].findings.iter())
        .map(|&i| &ds.findings[i as usize])
        .filter(|f| finding_matches(ctx, f))
        .collect();
    out.sort_by(|a, b| (a.first_seen, &a.key).cmp(&(b.first_seen, &b.key)));
    out
}

/// Whether a finding is open at `at`, and its age then.
pub(crate) fn open_age(ds: &crate::Dataset, f: &FindingAgg, at: Ts) -> Option<Ts> {
    if f.first_seen > at {
        return None;
    }
    match ds.fixed_at(f) {
        Some(fixed) if fixed <= at => None,
        _ => Some(at - f.first_seen),
    }
}

/// Whether an open finding of this age is past its SLA (its severity's, or
/// the shorter one its threat gives it: [`crate::Dataset::sla_of`]).
pub(crate) fn past_sla(ds: &crate::Dataset, f: &FindingAgg, age: Ts) -> bool {
    ds.sla_of(f).is_some_and(|(sla, _)| age > sla)
}

pub(crate) fn finding_record(
    ds: &crate::Dataset,
    f: &FindingAgg,
    role: String,
    value: Option<f64>,
) -> TracedRecord {
    TracedRecord {
        event_id: f
            .evs
            .first()
            .map_or_else(|| f.key.clone(), |&e| ds.id(e).to_string()),
        kind: "finding".into(),
        time: to_time(f.first_seen),
        service: (f.svc != NONE).then(|| ds.svc_name(f.svc).to_string()),
        environment: None,
        role,
        value,
        confidence: None,
    }
}

pub(crate) fn open_findings(ctx: &mut Ctx<'_>, only_past_sla: bool) -> MetricValue {
    let ds = ctx.ds;
    let mut count = 0usize;
    let mut open = 0usize;
    for f in findings_in(ctx) {
        let Some(age) = open_age(ds, f, ctx.to) else {
            continue;
        };
        open += 1;
        let past = past_sla(ds, f, age);
        if only_past_sla && !past {
            continue;
        }
        count += 1;
        for &e in &f.evs {
            ctx.tr.add_id(ds, e);
        }
        ctx.tr.add_other(|| {
            let role = format!(
                "open {} finding {}, age {}{}",
                f.severity.name(),
                f.key,
                fmt_secs(age as f64),
                match ds.sla_of(f) {
                    Some((s, why)) if past => format!(" (past its {} {why})", fmt_secs(s as f64)),
                    Some((s, why)) => format!(" ({why} {})", fmt_secs(s as f64)),
                    None => String::new(),
                }
            );
            finding_record(ds, f, role, Some(age as f64))
        });
    }
    let mut v = ctx.value(Some(count as f64), if only_past_sla { open } else { count });
    if ds.findings.is_empty() {
        v.value = None;
        v.note = Some("no findings recorded".into());
    }
    v
}

pub(crate) fn remediation_time(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let mut samples = Vec::new();
    for f in findings_in(ctx) {
        let Some(fixed) = ds.fixed_at(f) else {
            continue;
        };
        if fixed <= ctx.from || fixed > ctx.to {
            continue;
        }
        let secs = (fixed - f.first_seen).max(0) as f64;
        samples.push(secs);
        for &e in &f.evs {
            ctx.tr.add_id(ds, e);
        }
        ctx.tr.add_other(|| {
            finding_record(
                ds,
                f,
                format!("finding {} fixed after {}", f.key, fmt_secs(secs)),
                Some(secs),
            )
        });
    }
    let n = samples.len();
    ctx.value(mean(&samples), n)
}

pub(crate) fn compliance_rate(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let services = (!ctx.scope.is_org()).then(|| ds.services_in(ctx.scope));
    let guardrails = ctx.filter_values("guardrail");
    let a = ds.decisions.partition_point(|d| d.time <= ctx.from);
    let b = ds.decisions.partition_point(|d| d.time <= ctx.to);
    let (mut n, mut ok) = (0usize, 0usize);
    for d in &ds.decisions[a..b.max(a)] {
        if let Some(svcs) = &services
            && !svcs.contains(&d.svc)
        {
            continue;
        }
        if !env_ok(ctx, d.env) {
            continue;
        }
        let count = d.count as usize;
        n += count;
        let compliant = match &guardrails {
            Some(g) => !d.guardrails.iter().any(|x| g.contains(&x.as_str())),
            None => d.allowed && !d.waived,
        };
        if compliant {
            ok += count;
        }
        ctx.tr.add_named(&d.id, || TracedRecord {
            event_id: d.id.clone(),
            kind: "decision".into(),
            time: to_time(d.time),
            service: (d.svc != NONE).then(|| ds.svc_name(d.svc).to_string()),
            environment: ds.env_name(d.env).map(str::to_string),
            role: format!(
                "{}{}",
                if compliant {
                    "decision allowed without waiver"
                } else if d.waived {
                    "decision passed only through a waiver"
                } else {
                    "decision not allowed"
                },
                if count > 1 {
                    format!(" (and {} more like it in the same second)", count - 1)
                } else {
                    String::new()
                }
            ),
            value: None,
            confidence: None,
        });
    }
    let mut v = ctx.value((n > 0).then(|| ok as f64 / n as f64), n);
    if n == 0 {
        v.note = Some("no guardrail decisions in the window".into());
    }
    v
}

/// Incidents of the scope opened in the window (service-less incidents count for the org).
fn incidents_in(ctx: &Ctx<'_>) -> Vec<u32> {
    let ds = ctx.ds;
    let want = ctx.filter_values("severity");
    let mut out: Vec<u32> = if ctx.scope.is_org() {
        (0..ds.incidents.len() as u32).collect()
    } else {
        ds.services_in(ctx.scope)
            .into_iter()
            .flat_map(|s| ds.data[s as usize].incidents.iter().copied())
            .collect()
    };
    out.retain(|&i| {
        let r = &ds.incidents[i as usize];
        let o = r.opened_at();
        o > ctx.from
            && o <= ctx.to
            && env_ok_incident(ctx, r.env)
            && want.as_ref().is_none_or(|w| {
                r.severity
                    .as_ref()
                    .is_some_and(|(_, _, s)| w.contains(&s.as_str()))
            })
    });
    out.sort_by(|a, b| {
        let (x, y) = (&ds.incidents[*a as usize], &ds.incidents[*b as usize]);
        (x.opened_at(), &x.key).cmp(&(y.opened_at(), &y.key))
    });
    out
}

fn env_ok_incident(ctx: &Ctx<'_>, env: u32) -> bool {
    env == NONE || env_ok(ctx, env)
}

pub(crate) fn incident_time(ctx: &mut Ctx<'_>, ack: bool) -> MetricValue {
    let ds = ctx.ds;
    let mut samples = Vec::new();
    for i in incidents_in(ctx) {
        let r = &ds.incidents[i as usize];
        let end = if ack { r.acked } else { r.resolved };
        let Some(end) = end.filter(|&e| e <= ctx.to) else {
            continue;
        };
        let secs = (end - r.opened_at()).max(0) as f64;
        samples.push(secs);
        for &e in &r.evs {
            let rec = Rec {
                ev: e,
                time: r.opened_at(),
                svc: r.svc,
                env: r.env,
                value: Some(secs),
                confidence: None,
            };
            ctx.tr.add(ds, rec, || {
                format!(
                    "incident {} {} after {}",
                    r.key,
                    if ack { "acknowledged" } else { "resolved" },
                    fmt_secs(secs)
                )
            });
        }
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, 0.5), n)
}

pub(crate) fn incident_count(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let list = incidents_in(ctx);
    for &i in &list {
        let r = &ds.incidents[i as usize];
        for &e in &r.evs {
            let rec = Rec {
                ev: e,
                time: r.opened_at(),
                svc: r.svc,
                env: r.env,
                value: None,
                confidence: r.linked.map(|l| l.confidence),
            };
            ctx.tr.add(ds, rec, || match r.linked {
                Some(l) if l.explicit => format!(
                    "incident {} opened; caused by deployment {} (explicit link)",
                    r.key,
                    ds.id(l.dep)
                ),
                Some(l) => format!(
                    "incident {} opened; linked by window to deployment {} with confidence {}",
                    r.key,
                    ds.id(l.dep),
                    l.confidence
                ),
                None => format!("incident {} opened; no deployment linked", r.key),
            });
        }
    }
    ctx.value(Some(list.len() as f64), list.len())
}

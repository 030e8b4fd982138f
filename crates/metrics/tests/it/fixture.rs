//! Builders for compact test events.

use std::collections::BTreeMap;

use bearing_events::*;
use chrono::{DateTime, TimeZone, Utc};

/// `t("10-21 12:00")`: a UTC instant in October 2026.
pub fn t(s: &str) -> DateTime<Utc> {
    let (md, hm) = s.split_once(' ').unwrap();
    let (m, d) = md.split_once('-').unwrap();
    let (h, mi) = hm.split_once(':').unwrap();
    Utc.with_ymd_and_hms(
        2026,
        m.parse().unwrap(),
        d.parse().unwrap(),
        h.parse().unwrap(),
        mi.parse().unwrap(),
        0,
    )
    .unwrap()
}

pub fn ev(id: &str, time: &str, service: &str, env: Option<&str>, payload: Payload) -> Event {
    let mut e = Event::new(id, "test", t(time), payload);
    e.service = Some(service.to_string());
    e.environment = env.map(str::to_string);
    e
}

pub fn commit(sha: &str, authored: &str, parents: &[&str]) -> Commit {
    Commit {
        sha: sha.into(),
        authored_at: t(authored),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        author: None,
        files: Vec::new(),
    }
}

pub fn change(
    id: &str,
    time: &str,
    service: &str,
    commits: Vec<Commit>,
    merge: Option<&str>,
    labels: &[&str],
) -> Event {
    ev(
        id,
        time,
        service,
        None,
        Payload::Change(Change {
            change_id: id.into(),
            repo: None,
            title: None,
            author: None,
            commits,
            merged_at: Some(t(time)),
            merge_commit: merge.map(str::to_string),
            files_changed: None,
            additions: None,
            deletions: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }),
    )
}

pub fn deploy(
    id: &str,
    time: &str,
    service: &str,
    env: &str,
    head: &str,
    commits: &[&str],
    labels: &[&str],
) -> Event {
    ev(
        id,
        time,
        service,
        Some(env),
        Payload::Deployment(Deployment {
            deployment_id: id.into(),
            version: None,
            commit: Some(head.into()),
            commits: commits.iter().map(|c| c.to_string()).collect(),
            status: Status::Success,
            started_at: None,
            finished_at: None,
            strategy: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }),
    )
}

pub fn rollback(id: &str, time: &str, service: &str, dep: &str) -> Event {
    ev(
        id,
        time,
        service,
        Some("production"),
        Payload::Rollback(Rollback {
            rollback_id: id.into(),
            deployment_id: Some(dep.into()),
            from_version: None,
            to_version: None,
        }),
    )
}

pub fn incident(id: &str, step: &str, time: &str, service: &str, status: IncidentStatus) -> Event {
    ev(
        &format!("{id}:{step}"),
        time,
        service,
        None,
        Payload::Incident(Incident {
            incident_id: id.into(),
            status,
            severity: Some("sev2".into()),
            title: None,
            opened_at: None,
            acknowledged_at: None,
            resolved_at: None,
            url: None,
        }),
    )
}

pub fn cost(
    id: &str,
    start: DateTime<Utc>,
    amount: f64,
    tags: &[(&str, &str)],
    rid: Option<&str>,
) -> Event {
    let mut e = Event::new(
        id,
        "focus",
        start,
        Payload::Cost(CostRow {
            billed_cost: amount,
            effective_cost: amount,
            currency: "EUR".into(),
            charge_period_start: start,
            charge_period_end: start + chrono::Duration::hours(1),
            provider: Some("aws".into()),
            resource_id: rid.map(str::to_string),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }),
    );
    e.service = None;
    e
}

pub fn point(id: &str, time: &str, service: &str, name: &str, value: f64) -> Event {
    ev(
        id,
        time,
        service,
        None,
        Payload::MetricPoint(MetricPoint {
            name: name.into(),
            value,
            dimensions: BTreeMap::new(),
        }),
    )
}

pub fn flag(id: &str, time: &str, service: &str, name: &str) -> Event {
    ev(
        id,
        time,
        service,
        None,
        Payload::FeatureFlag(FeatureFlag {
            flag: name.into(),
            enabled: true,
            rollout: None,
        }),
    )
}

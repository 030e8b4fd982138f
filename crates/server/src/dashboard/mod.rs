//! The dashboard: server-rendered HTML pages with SVG charts drawn here, no
//! JavaScript. Every figure comes from the same metric engine as the API;
//! charts over time evaluate a metric at successive points (weekly for DORA,
//! daily for cost and SLOs).
//!
//! Pages: `/` scorecard, `/services` and `/services/{id}`, `/cost`,
//! `/pipelines`, `/security`, `/decisions` and `/decisions/{id}`, `/plans`.

pub mod html;
pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bearing_events::{Event, Kind, Payload};
use bearing_intent::{Duration, FilterValue, Layer, Scope};
use bearing_metrics::{Dataset, KeyResultCard, ObjectiveCard};
use bearing_store::{DecisionQuery, EventQuery};
use chrono::{DateTime, Datelike, DurationRound, TimeZone, Utc};
use serde_json::Value;

use crate::AppState;
use crate::auth::Scope as TokenScope;
use crate::error::ApiError;
use html::{Nav, Status, duration, esc, money, number, page, percent, result_badge, url};
use svg::{Mark, Marker, Rule, Series, TimeChart};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(scorecard_page))
        .route("/services", get(services_page))
        .route("/services/{id}", get(service_page))
        .route("/cost", get(cost_page))
        .route("/pipelines", get(pipelines_page))
        .route("/security", get(security_page))
        .route("/decisions", get(decisions_page))
        .route("/decisions/{id}", get(decision_page))
        .route("/plans", get(plans_page))
}

const BLUE: &str = "#3e63dd";
const GREEN: &str = "#30a46c";
const RED: &str = "#e5484d";
const AMBER: &str = "#f5a623";
const GREY: &str = "#8b8d98";
const PURPLE: &str = "#8e4ec6";

async fn allow(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    state
        .inner
        .auth
        .check(headers, TokenScope::Read, true)
        .await
}

fn org(state: &AppState) -> String {
    state
        .loop_()
        .intent()
        .organisation
        .clone()
        .unwrap_or_else(|| "your organisation".to_string())
}

fn updated(state: &AppState) -> String {
    let s = state.snapshot();
    format!(
        "{} events · refreshed {} UTC",
        s.events,
        s.refreshed_at.format("%Y-%m-%d %H:%M:%S")
    )
}

fn render(state: &AppState, title: &str, nav: Nav, body: &str) -> Response {
    Html(page(title, &org(state), nav, &updated(state), body)).into_response()
}

fn status_of(s: bearing_metrics::Status) -> Status {
    Status::parse(s.name())
}

fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Engineering => "engineering",
        Layer::Financial => "financial",
        Layer::Security => "security",
        Layer::Business => "business",
    }
}

fn scope_text(s: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &s.team {
        parts.push(format!("team {v}"));
    }
    if let Some(v) = &s.service {
        parts.push(v.clone());
    }
    if let Some(v) = &s.environment {
        parts.push(v.clone());
    }
    if parts.is_empty() {
        "organisation".to_string()
    } else {
        parts.join(" · ")
    }
}

fn filter_text(f: &BTreeMap<String, FilterValue>) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}: {}", v.values().join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn explain_link(kr: &KeyResultCard) -> String {
    let mut q = vec![format!("window={}s", kr.window_seconds)];
    if let Some(s) = &kr.scope.service {
        q.push(format!("service={}", url(s)));
    }
    if let Some(t) = &kr.scope.team {
        q.push(format!("team={}", url(t)));
    }
    if let Some(e) = &kr.scope.environment {
        q.push(format!("environment={}", url(e)));
    }
    if !kr.filter.is_empty() {
        q.push(format!(
            "filter={}",
            url(&bearing_metrics::filters_text(&kr.filter))
        ));
    }
    format!("/v1/explain/{}?{}", url(&kr.metric), q.join("&"))
}

fn trend_arrow(kr: &KeyResultCard) -> String {
    let (sym, class) = match kr.trend.direction.as_str() {
        "improving" => ("↗", "met"),
        "worsening" => ("↘", "off"),
        "flat" => ("→", "nodata"),
        _ => ("", "nodata"),
    };
    if sym.is_empty() {
        return String::new();
    }
    let prev = kr
        .trend
        .previous
        .map(|p| format!(" (previous window {})", fmt_unit(kr, p)))
        .unwrap_or_default();
    format!(
        r#"<span class="badge {class}" title="{}{}">{sym} {}</span>"#,
        esc(&kr.trend.direction),
        esc(&prev),
        esc(&kr.trend.direction)
    )
}

/// Formats a base-unit value like a key result's unit.
fn fmt_unit(kr: &KeyResultCard, v: f64) -> String {
    use bearing_intent::Unit;
    match kr.unit {
        Unit::Duration => duration(v),
        Unit::Percent => percent(v),
        Unit::Money => money(v, kr.currency.as_deref().unwrap_or("USD")),
        Unit::Rate => format!("{:.1}/week", v * 7.0),
        _ => number(v),
    }
}

fn objective_card(o: &ObjectiveCard) -> String {
    let st = status_of(o.status);
    let mut rows = String::new();
    for kr in &o.key_results {
        let ks = status_of(kr.status);
        let filter = if kr.filter.is_empty() {
            String::new()
        } else {
            format!(
                r#" <span class="mute small">({})</span>"#,
                esc(&filter_text(&kr.filter))
            )
        };
        let samples = if kr.too_few_samples {
            format!(
                r#"<span class="badge risk" title="too few samples to trust">▲ {}</span>"#,
                kr.samples
            )
        } else {
            format!(r#"<span class="mute small">{}</span>"#, kr.samples)
        };
        let value = if kr.value.is_some() {
            esc(&kr.display)
        } else {
            "–".to_string()
        };
        let _ = write!(
            rows,
            r#"<tr><td><a href="{}" class="mono" title="records behind this figure">{}</a>{filter}<div class="mute small">{}</div></td><td class="num"><b>{value}</b></td><td class="num mono">{}</td><td>{}</td><td>{}</td><td class="num">{samples}</td></tr>"#,
            esc(&explain_link(kr)),
            esc(&kr.metric),
            esc(&scope_text(&kr.scope)),
            esc(&kr.target),
            ks.badge(),
            trend_arrow(kr),
        );
    }
    let meta = [
        o.owner.as_ref().map(|v| format!("owner {v}")),
        o.due.map(|d| format!("due {d}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    format!(
        r#"<section class="card obj {cls}"><div class="obj-head"><h2><span class="layer">{layer}</span>{title}</h2>{badge}</div><div class="meta mute small">{id} · {meta}</div>
<table><thead><tr><th>Key result</th><th class="num">Value</th><th class="num">Target</th><th>Status</th><th>Trend</th><th class="num" title="samples behind the value">n</th></tr></thead><tbody>{rows}</tbody></table></section>"#,
        cls = st.class(),
        layer = layer_name(o.layer),
        title = esc(o.title.as_deref().unwrap_or(&o.id)),
        badge = st.badge(),
        id = esc(&o.id),
        meta = esc(&meta),
    )
}

/// Evaluates a metric at each time in `at`.
fn series_at(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    window: Duration,
    at: &[DateTime<Utc>],
) -> Vec<(DateTime<Utc>, f64)> {
    let none = BTreeMap::new();
    at.iter()
        .filter_map(|t| {
            bearing_metrics::evaluate(ds, metric, scope, &none, window, *t)
                .value
                .map(|v| (*t, v))
        })
        .collect()
}

/// Week ends (now, now-7d, …) over `weeks` weeks, oldest first.
fn weekly(now: DateTime<Utc>, weeks: i64) -> Vec<DateTime<Utc>> {
    (0..weeks)
        .rev()
        .map(|w| now - chrono::Duration::days(7 * w))
        .collect()
}

/// Day ends over `days` days, oldest first, ending at today's midnight.
fn daily(now: DateTime<Utc>, days: i64) -> Vec<DateTime<Utc>> {
    let today = now.duration_trunc(chrono::Duration::days(1)).unwrap_or(now);
    (0..days)
        .rev()
        .map(|d| today - chrono::Duration::days(d))
        .collect()
}

fn svc_scope(id: &str) -> Scope {
    Scope {
        service: Some(id.to_string()),
        ..Scope::default()
    }
}

/// The scorecard page: objectives and key results at a glance.
async fn scorecard_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let snap = state.snapshot();
    let card = &snap.scorecard;
    let s = &card.summary;
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<h1>Scorecard</h1><p class="lede">Objectives and key results of {}, measured from {} delivery events. Click a metric to see the records behind it.</p>
<div class="grid g4 strip">{}{}{}{}</div>"#,
        esc(&org(&state)),
        snap.events,
        kpi("met", &s.met.to_string(), "key results met"),
        kpi("risk", &s.at_risk.to_string(), "at risk"),
        kpi("off", &s.off_track.to_string(), "off track"),
        kpi("", &s.no_data.to_string(), "no data yet"),
    );
    for n in &card.notes {
        let _ = write!(
            body,
            r#"<p class="note"><strong>Note:</strong> {}</p>"#,
            esc(n)
        );
    }
    body.push_str(&loop_story(&state).await);
    // Business KPI chart with the release marker.
    let business: Vec<&KeyResultCard> = card
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .filter(|kr| kr.metric.starts_with("business."))
        .collect();
    let mut objs = String::new();
    for o in &card.objectives {
        objs.push_str(&objective_card(o));
    }
    let _ = write!(body, r#"<div class="grid g2">{objs}</div>"#);
    if let Some(kr) = business.first() {
        let now = Utc::now();
        let days = daily(now, 60);
        let points = state
            .loop_()
            .with_dataset(|ds| series_at(ds, &kr.metric, &kr.scope, Duration::from_days(1), &days));
        let flags = flag_markers(
            &state,
            kr.scope.service.as_deref(),
            now - chrono::Duration::days(60),
        )
        .await;
        let chart = TimeChart {
            title: &format!("{} per day", kr.metric),
            series: vec![Series {
                name: kr.metric.clone(),
                color: PURPLE,
                points,
                dashed: false,
                area: true,
            }],
            rules: vec![Rule {
                label: format!("target {}", kr.target),
                value: kr.target_value,
                color: GREEN,
            }],
            markers: flags,
            fmt: &|v| percent(v),
            height: 220,
            zero: false,
            wide: false,
            seconds: false,
        }
        .render();
        let impact = kr
            .release_impact
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .map(|v| impact_text(&v))
            .unwrap_or_default();
        let _ = write!(
            body,
            r#"<section class="card" style="margin-top:16px"><h2>Business outcome: {}</h2><p class="mute small">Daily values over 60 days; dashed lines mark feature-flag releases. {}</p>{chart}</section>"#,
            esc(&kr.metric),
            esc(&impact)
        );
    }
    Ok(render(&state, "Scorecard", Nav::Scorecard, &body))
}

fn impact_text(v: &Value) -> String {
    let before = v.get("before_mean").and_then(Value::as_f64);
    let after = v.get("after_mean").and_then(Value::as_f64);
    let release = v
        .get("release_name")
        .or_else(|| v.get("release"))
        .and_then(Value::as_str)
        .unwrap_or("the latest feature release");
    let day = |w: &str, i: usize| {
        v.get(w)
            .and_then(|x| x.get(i))
            .and_then(Value::as_str)
            .map(|s| s.get(..10).unwrap_or(s).to_string())
            .unwrap_or_default()
    };
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let p = v
        .get("mann_whitney")
        .and_then(|m| m.get("p_value"))
        .and_then(Value::as_f64);
    let significant = v
        .get("significant")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match (before, after) {
        (Some(b), Some(a)) => format!(
            "Around {release}: {} before ({} – {}, {} points), {} after ({} – {}, {} points){}{}.",
            percent(b),
            day("before_window", 0),
            day("before_window", 1),
            n("before_samples"),
            percent(a),
            day("after_window", 0),
            day("after_window", 1),
            n("after_samples"),
            p.map(|p| format!("; Mann-Whitney p = {p:.3}"))
                .unwrap_or_default(),
            if significant {
                " — stands out from the noise"
            } else {
                " — within the noise"
            }
        ),
        _ => String::new(),
    }
}

fn kpi(class: &str, value: &str, label: &str) -> String {
    format!(
        r#"<div class="card kpi {class}"><span class="v">{}</span><span class="l">{}</span></div>"#,
        esc(value),
        esc(label)
    )
}

/// "What the loop did": plans reconcile changed and recent decisions.
async fn loop_story(state: &AppState) -> String {
    let snap = state.snapshot();
    let mut items = Vec::new();
    for p in &snap.plans {
        if p.freeze || p.strategy != "direct" || !p.extra_gates.is_empty() {
            let what = if p.freeze {
                "deploys frozen".to_string()
            } else {
                format!("delivers by {}", p.strategy)
            };
            items.push(format!(
                r#"<li><a href="/services/{}"><b>{}</b></a> {}{}</li>"#,
                url(&p.service),
                esc(&p.service),
                esc(&what),
                if p.reasons.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#" <span class="mute">— {}</span>"#,
                        esc(&p.reasons.join("; "))
                    )
                }
            ));
        }
    }
    let decisions = state
        .store()
        .decisions(&DecisionQuery {
            service: None,
            since: None,
            limit: Some(500),
        })
        .await
        .unwrap_or_default();
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &decisions {
        *by.entry(d.result.as_str()).or_default() += 1;
    }
    if items.is_empty() && decisions.is_empty() {
        return String::new();
    }
    let counts = by
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"<section class="card story" style="margin-bottom:16px"><h2>The loop, now</h2><ul style="margin:4px 0 6px 18px;padding:0">{}</ul><div class="small">Guardrails decided on the latest {} changes: {} · <a href="/decisions">decision log</a> · <a href="/plans">plans and actions</a></div></section>"#,
        if items.is_empty() {
            "<li>every service delivers with its default plan</li>".to_string()
        } else {
            items.join("")
        },
        decisions.len(),
        esc(&counts)
    )
}

async fn flag_markers(
    state: &AppState,
    service: Option<&str>,
    since: DateTime<Utc>,
) -> Vec<Marker> {
    let events = state
        .store()
        .events(&EventQuery {
            kinds: vec![Kind::FeatureFlag],
            service: service.map(str::to_string),
            since: Some(since),
            ..EventQuery::default()
        })
        .await
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    events
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::FeatureFlag(f) if f.enabled && f.rollout.is_none_or(|r| r >= 100.0) => {
                seen.insert(f.flag.clone()).then(|| Marker {
                    label: format!("{} on", f.flag),
                    time: e.time,
                    color: PURPLE,
                })
            }
            _ => None,
        })
        .collect()
}

/// Every service with its headline outcomes.
async fn services_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let snap = state.snapshot();
    let intent = state.loop_().intent().clone();
    let now = Utc::now();
    let weeks = weekly(now, 13);
    let sparks: BTreeMap<String, Vec<f64>> = state.loop_().with_dataset(|ds| {
        intent
            .services
            .iter()
            .map(|s| {
                let v = series_at(
                    ds,
                    "dora.deployment_frequency",
                    &svc_scope(&s.id),
                    Duration::from_days(7),
                    &weeks,
                )
                .into_iter()
                .map(|p| p.1)
                .collect();
                (s.id.clone(), v)
            })
            .collect()
    });
    let mut rows = String::new();
    for team in &intent.teams {
        for s in intent.services_of(&team.id) {
            let o = snap.outcomes.services.get(&s.id);
            let g = |f: fn(&bearing_metrics::ServiceOutcome) -> Option<f64>| o.and_then(f);
            let cfr = g(|o| o.change_failure_rate);
            let budget = g(|o| o.error_budget_remaining);
            let spend = g(|o| o.spend_vs_budget);
            let _ = write!(
                rows,
                r#"<tr><td><a href="/services/{}"><b>{}</b></a><div class="mute small">{} · {:?}</div></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                url(&s.id),
                esc(&s.id),
                esc(team.name.as_deref().unwrap_or(&team.id)),
                s.tier,
                svg::sparkline(sparks.get(&s.id).map_or(&[][..], Vec::as_slice), BLUE),
                g(|o| o.deployment_frequency_per_day)
                    .map_or("–".into(), |v| format!("{:.1}/week", v * 7.0)),
                g(|o| o.lead_time_p50_seconds).map_or("–".into(), duration),
                colored(
                    cfr.map_or("–".into(), percent),
                    cfr.is_some_and(|v| v > 0.15)
                ),
                colored(
                    budget.map_or("–".into(), percent),
                    budget.is_some_and(|v| v < 0.0)
                ),
                colored(
                    spend.map_or("–".into(), percent),
                    spend.is_some_and(|v| v > 1.0)
                ),
                plan_pill(snap.plan(&s.id)),
            );
        }
    }
    let body = format!(
        r#"<h1>Services</h1><p class="lede">Production outcomes over the last 30 days, and the delivery plan reconcile currently wants.</p>
<section class="card"><table><thead><tr><th>Service</th><th>Deploys, 13 weeks</th><th class="num">Deploys</th><th class="num">Lead time p50</th><th class="num">Change failure</th><th class="num">Error budget left</th><th class="num">Spend vs budget</th><th>Plan</th></tr></thead><tbody>{rows}</tbody></table></section>"#
    );
    Ok(render(&state, "Services", Nav::Services, &body))
}

/// One line per SLO of the service read from Prometheus: where the sync
/// stands, or why it is backing off.
fn sli_sync(state: &AppState, service: &str) -> String {
    let Some(p) = state.prometheus() else {
        return String::new();
    };
    let fmt = |t: Option<DateTime<Utc>>| {
        t.map_or("never".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
    };
    let mut out = String::new();
    for s in p.states().iter().filter(|s| s.service == service) {
        let line = match s.state {
            "backing_off" => colored(
                format!(
                    "backing off after {} failure(s), next try {}: {}",
                    s.failures,
                    fmt(s.retry_at),
                    s.last_error.as_deref().unwrap_or("")
                ),
                true,
            ),
            "ok" => format!("synced to {}", fmt(s.synced_to)),
            _ => "waiting for the first sync".to_string(),
        };
        let _ = write!(
            out,
            r#"<p class="mute small">SLO <code>{}</code> from Prometheus <code>{}</code>: {line}</p>"#,
            esc(&s.slo),
            esc(&s.url)
        );
    }
    out
}

fn strategy_pill(strategy: &str) -> String {
    let class = if strategy == "canary" { " canary" } else { "" };
    format!(r#"<span class="pill{class}">{}</span>"#, esc(strategy))
}

fn colored(text: String, bad: bool) -> String {
    if bad {
        format!(
            r#"<span style="color:{RED};font-weight:650">{}</span>"#,
            esc(&text)
        )
    } else {
        esc(&text)
    }
}

fn plan_pill(p: Option<&bearing_events::DeliveryPlan>) -> String {
    match p {
        Some(p) if p.freeze => r#"<span class="pill freeze">❄ frozen</span>"#.to_string(),
        Some(p) if p.strategy == "canary" => {
            r#"<span class="pill canary">canary</span>"#.to_string()
        }
        Some(p) => format!(r#"<span class="pill">{}</span>"#, esc(&p.strategy)),
        None => r#"<span class="pill">default</span>"#.to_string(),
    }
}

/// One service: DORA trends, timeline, SLO, cost, plan and decisions.
async fn service_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let intent = state.loop_().intent().clone();
    let Some(svc) = intent.service(&id).cloned() else {
        return Err(ApiError::not_found(format!("unknown service `{id}`")));
    };
    let snap = state.snapshot();
    let now = Utc::now();
    let scope = svc_scope(&id);
    let weeks = weekly(now, 13);
    let days90 = daily(now, 90);
    let days56 = daily(now, 56);
    let (lead, lead90, cfr, recovery, budget, cost) = state.loop_().with_dataset(|ds| {
        (
            series_at(
                ds,
                "dora.lead_time.p50",
                &scope,
                Duration::from_days(7),
                &weeks,
            ),
            series_at(
                ds,
                "dora.lead_time.p90",
                &scope,
                Duration::from_days(7),
                &weeks,
            ),
            series_at(
                ds,
                "dora.change_failure_rate",
                &scope,
                Duration::from_days(30),
                &weeks,
            ),
            series_at(
                ds,
                "dora.recovery_time",
                &scope,
                Duration::from_days(30),
                &weeks,
            ),
            series_at(
                ds,
                "slo.error_budget_remaining",
                &scope,
                Duration::from_days(28),
                &days56,
            ),
            series_at(ds, "cost.daily", &scope, Duration::from_days(1), &days90),
        )
    });
    let since = now - chrono::Duration::days(90);
    let events = state
        .store()
        .events(&EventQuery {
            kinds: vec![
                Kind::Deployment,
                Kind::Incident,
                Kind::Rollback,
                Kind::FeatureFlag,
            ],
            service: Some(id.clone()),
            since: Some(since),
            ..EventQuery::default()
        })
        .await?;
    let prod = svc.production_env().to_string();
    let (marks, weekly_deploys) = timeline_marks(&events, &prod, now);
    let o = snap.outcomes.services.get(&id);
    let g = |f: fn(&bearing_metrics::ServiceOutcome) -> Option<f64>| o.and_then(f);
    let team = intent
        .team(&svc.team)
        .and_then(|t| t.name.clone())
        .unwrap_or(svc.team.clone());
    let mut body = format!(
        r#"<h1>{} {}</h1><p class="lede">Team {} · tier {:?} · production environment <b>{}</b></p>"#,
        esc(&id),
        plan_pill(snap.plan(&id)),
        esc(&team),
        svc.tier,
        esc(&prod)
    );
    let cfr_now = g(|o| o.change_failure_rate);
    let eb = g(|o| o.error_budget_remaining);
    let svb = g(|o| o.spend_vs_budget);
    let _ = write!(
        body,
        r#"<div class="grid g4 strip">{}{}{}{}</div>"#,
        kpi(
            "",
            &g(|o| o.deployment_frequency_per_day)
                .map_or("–".into(), |v| format!("{:.1}/week", v * 7.0)),
            "deployment frequency (30d)"
        ),
        kpi(
            "",
            &g(|o| o.lead_time_p50_seconds).map_or("–".into(), duration),
            "lead time p50 (30d)"
        ),
        kpi(
            if cfr_now.is_some_and(|v| v > 0.15) {
                "off"
            } else {
                "met"
            },
            &cfr_now.map_or("–".into(), percent),
            "change failure rate (30d)"
        ),
        if svc.slos.is_empty() {
            kpi(
                "",
                &svb.map_or("–".into(), percent),
                "month-end forecast / budget",
            )
        } else {
            kpi(
                if eb.is_some_and(|v| v < 0.0) {
                    "off"
                } else {
                    "met"
                },
                &eb.map_or("–".into(), percent),
                "error budget left",
            )
        },
    );
    let bars: Vec<(String, f64, &'static str)> = weekly_deploys
        .iter()
        .map(|(t, n, failed)| {
            (
                t.format("%b %-d").to_string(),
                *n as f64,
                if *failed > 0 { AMBER } else { BLUE },
            )
        })
        .collect();
    let lead_chart = TimeChart {
        title: "Lead time for changes, weekly",
        series: vec![
            Series {
                name: "p50".into(),
                color: BLUE,
                points: lead,
                dashed: false,
                area: true,
            },
            Series {
                name: "p90".into(),
                color: GREY,
                points: lead90,
                dashed: true,
                area: false,
            },
        ],
        rules: vec![],
        markers: vec![],
        fmt: &|v| duration(v),
        height: 200,
        zero: true,
        wide: false,
        seconds: true,
    }
    .render();
    let cfr_chart = TimeChart {
        title: "Change failure rate, 30-day rolling",
        series: vec![Series {
            name: "change failure rate".into(),
            color: RED,
            points: cfr,
            dashed: false,
            area: true,
        }],
        rules: vec![Rule {
            label: "15% adaptation threshold".into(),
            value: 0.15,
            color: AMBER,
        }],
        markers: vec![],
        fmt: &|v| percent(v),
        height: 200,
        zero: true,
        wide: false,
        seconds: false,
    }
    .render();
    let recovery_chart = TimeChart {
        title: "Failed deployment recovery time, 30-day rolling",
        series: vec![Series {
            name: "recovery time".into(),
            color: PURPLE,
            points: recovery,
            dashed: false,
            area: false,
        }],
        rules: vec![],
        markers: vec![],
        fmt: &|v| duration(v),
        height: 200,
        zero: true,
        wide: false,
        seconds: true,
    }
    .render();
    let _ = write!(
        body,
        r#"<div class="grid g2"><section class="card"><h2>Deployments per week</h2>{}<div class="legend"><span><i style="background:{BLUE}"></i>all fine</span><span><i style="background:{AMBER}"></i>week with a failed deployment</span></div></section>
<section class="card"><h2>Lead time for changes</h2>{lead_chart}<div class="legend"><span><i style="background:{BLUE}"></i>p50</span><span><i style="background:{GREY}"></i>p90</span></div></section>
<section class="card"><h2>Change failure rate</h2>{cfr_chart}</section>
<section class="card"><h2>Recovery time</h2>{recovery_chart}</section></div>"#,
        svg::bars(
            "Production deployments per week",
            &bars,
            &|v| format!("{v:.0}"),
            200
        ),
    );
    let _ = write!(
        body,
        r#"<section class="card" style="margin-top:16px"><h2>Deployments and incidents, 90 days</h2>{}<div class="legend"><span><i style="background:{BLUE}"></i>deployment</span><span><i style="background:{AMBER}"></i>hotfix</span><span><i style="background:{RED}"></i>incident (open → resolved)</span><span><i style="background:{GREY}"></i>rollback</span><span><i style="background:{PURPLE}"></i>feature flag</span></div></section>"#,
        svg::timeline(
            "Deployments and incidents",
            &["deploys", "incidents", "rollbacks", "flags"],
            &marks,
            since,
            now
        )
    );
    let mut lower = String::new();
    if !svc.slos.is_empty() {
        let chart = TimeChart {
            title: "Error budget remaining, 28-day window",
            series: vec![Series {
                name: "error budget".into(),
                color: GREEN,
                points: budget,
                dashed: false,
                area: true,
            }],
            rules: vec![Rule {
                label: "budget spent".into(),
                value: 0.0,
                color: RED,
            }],
            markers: vec![],
            fmt: &|v| percent(v),
            height: 200,
            zero: false,
            wide: false,
            seconds: false,
        }
        .render();
        let _ = write!(
            lower,
            r#"<section class="card"><h2>SLO error budget</h2>{chart}{}</section>"#,
            sli_sync(&state, &id)
        );
    }
    let budget_line = svc
        .cost
        .as_ref()
        .and_then(|c| c.monthly_budget.as_ref())
        .map(|m| Rule {
            label: format!("budget/day ≈ {}", money(m.amount / 30.0, &m.currency)),
            value: m.amount / 30.0,
            color: AMBER,
        });
    let cost_chart = TimeChart {
        title: "Daily cost",
        series: vec![Series {
            name: "daily cost".into(),
            color: BLUE,
            points: cost,
            dashed: false,
            area: true,
        }],
        rules: budget_line.into_iter().collect(),
        markers: vec![],
        fmt: &|v| money_short(v),
        height: 200,
        zero: true,
        wide: false,
        seconds: false,
    }
    .render();
    let _ = write!(
        lower,
        r#"<section class="card"><h2>Daily cost</h2>{cost_chart}</section>"#
    );
    let _ = write!(
        body,
        r#"<div class="grid g2" style="margin-top:16px">{lower}</div>"#
    );
    // Plan, actions and recent decisions.
    let actions: Vec<&bearing_events::Action> = snap
        .actions
        .iter()
        .filter(|a| a.service.as_deref() == Some(id.as_str()))
        .collect();
    let decisions = state
        .store()
        .decisions(&DecisionQuery {
            service: Some(id.clone()),
            since: None,
            limit: Some(10),
        })
        .await?;
    let plan = match snap.plan(&id) {
        Some(p) => format!(
            r#"<p>Strategy <b>{}</b>{} · extra gates: {} · updated {}</p><p class="mute small">{}</p>"#,
            esc(&p.strategy),
            if p.freeze {
                " · <b style=\"color:#ce2c31\">frozen</b>"
            } else {
                ""
            },
            if p.extra_gates.is_empty() {
                "none".to_string()
            } else {
                esc(&p.extra_gates.join(", "))
            },
            p.updated_at.format("%Y-%m-%d %H:%M"),
            esc(&p.reasons.join("; "))
        ),
        None => "<p class=\"mute\">No plan yet: the service delivers as its intent says.</p>"
            .to_string(),
    };
    let _ = write!(
        body,
        r#"<div class="grid g2" style="margin-top:16px"><section class="card"><h2>Delivery plan</h2>{plan}{}</section><section class="card"><h2>Recent decisions</h2>{}</section></div>"#,
        actions_table(&actions),
        decisions_table(&decisions, false)
    );
    Ok(render(&state, &id, Nav::Services, &body))
}

/// Opened, resolved, title.
type IncidentSpan = (Option<DateTime<Utc>>, Option<DateTime<Utc>>, String);

fn days(d: Duration) -> String {
    format!("{:.0}d", d.as_days_f64())
}

fn money_short(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("${:.0}k", v / 1000.0)
    } else {
        money(v, "USD")
    }
}

type WeeklyDeploys = Vec<(DateTime<Utc>, usize, usize)>;

fn timeline_marks(events: &[Event], prod: &str, now: DateTime<Utc>) -> (Vec<Mark>, WeeklyDeploys) {
    let mut marks = Vec::new();
    let mut weeks: WeeklyDeploys = weekly(now, 13)
        .into_iter()
        .map(|t| (t - chrono::Duration::days(7), 0, 0))
        .collect();
    let mut incidents: BTreeMap<String, IncidentSpan> = BTreeMap::new();
    let mut failed_deploys = std::collections::HashSet::new();
    for e in events {
        match &e.payload {
            Payload::Incident(i) => {
                let entry =
                    incidents
                        .entry(i.incident_id.clone())
                        .or_insert((None, None, String::new()));
                entry.0 = entry.0.or(i.opened_at).or(Some(e.time));
                if i.resolved_at.is_some() {
                    entry.1 = i.resolved_at;
                }
                entry.2 = i.title.clone().unwrap_or_else(|| i.incident_id.clone());
                for l in &e.links {
                    failed_deploys.insert(l.target.clone());
                }
            }
            Payload::Rollback(r) => {
                if let Some(d) = &r.deployment_id {
                    failed_deploys.insert(d.clone());
                }
                marks.push(Mark {
                    time: e.time,
                    lane: 2,
                    color: GREY,
                    label: format!("rollback {}", r.from_version.clone().unwrap_or_default()),
                    until: None,
                });
            }
            Payload::FeatureFlag(f) => {
                marks.push(Mark {
                    time: e.time,
                    lane: 3,
                    color: PURPLE,
                    label: format!("flag {} {}", f.flag, if f.enabled { "on" } else { "off" }),
                    until: None,
                });
            }
            _ => {}
        }
    }
    for e in events {
        if let Payload::Deployment(d) = &e.payload {
            if e.environment.as_deref() != Some(prod) {
                continue;
            }
            let hotfix = d.labels.iter().any(|l| l == "hotfix");
            marks.push(Mark {
                time: e.time,
                lane: 0,
                color: if hotfix { AMBER } else { BLUE },
                label: format!(
                    "{} {}",
                    d.version.clone().unwrap_or_default(),
                    if hotfix { "(hotfix)" } else { "" }
                ),
                until: None,
            });
            if let Some(w) = weeks
                .iter_mut()
                .find(|w| e.time >= w.0 && e.time < w.0 + chrono::Duration::days(7))
            {
                w.1 += 1;
                if failed_deploys.contains(&e.id) || failed_deploys.contains(&d.deployment_id) {
                    w.2 += 1;
                }
            }
        }
    }
    for (id, (opened, resolved, title)) in incidents {
        if let Some(o) = opened {
            marks.push(Mark {
                time: o,
                lane: 1,
                color: RED,
                label: format!("{id}: {title}"),
                until: Some(resolved.unwrap_or(now).max(o + chrono::Duration::hours(6))),
            });
        }
    }
    (marks, weeks)
}

fn actions_table(actions: &[&bearing_events::Action]) -> String {
    if actions.is_empty() {
        return r#"<p class="mute small">No actions recorded.</p>"#.to_string();
    }
    let mut rows = String::new();
    for a in actions {
        let effect = a
            .outcome
            .as_ref()
            .map(|o| outcome_text(&a.metric, o))
            .unwrap_or_else(|| match bearing_adapt::reconcile::measure_at(a) {
                Some(t) => format!(
                    "too early to measure: the after-window ends {}",
                    t.format("%Y-%m-%d")
                ),
                None => "–".to_string(),
            });
        let _ = write!(
            rows,
            r#"<tr><td class="small">{}</td><td>{}{}</td><td>{}</td><td class="mono">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            a.created_at.format("%Y-%m-%d"),
            a.service
                .as_ref()
                .map(|s| format!(r#"<a href="/services/{}">{}</a>: "#, url(s), esc(s)))
                .unwrap_or_default(),
            esc(&a.summary),
            action_status(a.status),
            esc(&a.metric),
            a.baseline
                .map_or("–".into(), |b| metric_value(&a.metric, b)),
            esc(&effect),
        );
    }
    format!(
        r#"<table><thead><tr><th>When</th><th>Action</th><th>Status</th><th>Metric</th><th class="num">Baseline</th><th>Measured effect</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn action_status(s: bearing_events::ActionStatus) -> String {
    use bearing_events::ActionStatus as A;
    let (cls, word) = match s {
        A::Applied => ("met", "applied"),
        A::Proposed => ("risk", "proposed"),
        A::Dismissed => ("nodata", "dismissed"),
        A::Reverted => ("off", "reverted"),
    };
    format!(r#"<span class="badge {cls}">{word}</span>"#)
}

/// Formats a base-unit value of a catalog metric.
fn metric_value(metric: &str, v: f64) -> String {
    use bearing_intent::Unit;
    match bearing_intent::catalog::lookup(metric).map(|m| m.unit) {
        Some(Unit::Duration) => duration(v),
        Some(Unit::Percent) => percent(v),
        Some(Unit::Money) => money(v, "USD"),
        Some(Unit::Rate) => format!("{:.1}/week", v * 7.0),
        _ => number(v),
    }
}

fn outcome_text(metric: &str, v: &Value) -> String {
    let verdict = v
        .get("verdict")
        .or_else(|| v.get("result"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let after = v
        .get("value")
        .or_else(|| v.get("after"))
        .and_then(Value::as_f64)
        .map(|x| metric_value(metric, x));
    let span = |k: &str| {
        let w = v.get(k)?.as_array()?;
        let day = |x: &Value| x.as_str().map(|s| s.get(..10).unwrap_or(s).to_string());
        Some(format!("{}–{}", day(w.first()?)?, day(w.get(1)?)?))
    };
    let windows = match (span("before_window"), span("after_window")) {
        (Some(b), Some(a)) => format!("; before {b}, after {a}"),
        _ => String::new(),
    };
    match after {
        Some(a) => format!("{verdict} (now {a}{windows})"),
        None if !verdict.is_empty() => verdict.to_string(),
        None => v.to_string(),
    }
}

fn decisions_table(decisions: &[bearing_events::DecisionRecord], with_service: bool) -> String {
    if decisions.is_empty() {
        return r#"<p class="mute small">No decisions logged yet.</p>"#.to_string();
    }
    let mut rows = String::new();
    for d in decisions {
        let why = violations_summary(&d.decision);
        let svc = if with_service {
            format!(
                "<td>{}</td>",
                d.service
                    .as_ref()
                    .map(|s| format!(r#"<a href="/services/{}">{}</a>"#, url(s), esc(s)))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            r#"<tr><td class="small"><a href="/decisions/{}">{}</a></td>{svc}<td>{}</td><td>{}</td><td class="small">{}</td></tr>"#,
            url(&d.id),
            d.time.format("%m-%d %H:%M"),
            esc(d.environment.as_deref().unwrap_or("")),
            result_badge(&d.result),
            why
        );
    }
    let svc_head = if with_service { "<th>Service</th>" } else { "" };
    format!(
        r#"<table><thead><tr><th>When</th>{svc_head}<th>Env</th><th>Result</th><th>Why</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn violations_summary(decision: &Value) -> String {
    let Some(vs) = decision.get("violations").and_then(Value::as_array) else {
        return String::new();
    };
    if vs.is_empty() {
        return r#"<span class="mute">no guardrail objected</span>"#.to_string();
    }
    vs.iter()
        .take(3)
        .map(|v| {
            let g = v.get("guardrail").and_then(Value::as_str).unwrap_or("");
            let m = v.get("message").and_then(Value::as_str).unwrap_or("");
            let effect = v.get("effect").and_then(Value::as_str).unwrap_or("");
            format!(
                r#"<div><b>{}</b> <span class="mute">({})</span> {}</div>"#,
                esc(g),
                esc(effect),
                esc(m)
            )
        })
        .collect::<String>()
}

/// Cost against budget with the month-end forecast.
async fn cost_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let snap = state.snapshot();
    let intent = state.loop_().intent().clone();
    let now = Utc::now();
    let days = daily(now, 90);
    let org = Scope::default();
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let actions = state.store().actions().await?;
    let (daily_cost, anomalies, waste) = state.loop_().with_dataset(|ds| {
        let waste = waste_section(ds, &intent, &actions, now);
        let d = series_at(ds, "cost.daily", &org, Duration::from_days(1), &days);
        let a: BTreeMap<String, f64> = intent
            .services
            .iter()
            .filter_map(|s| {
                bearing_metrics::evaluate(
                    ds,
                    "cost.anomalies",
                    &svc_scope(&s.id),
                    &BTreeMap::new(),
                    Duration::from_days(30),
                    now,
                )
                .value
                .map(|v| (s.id.clone(), v))
            })
            .collect();
        (d, a, waste)
    });
    // Month to date, cumulative, with the forecast to month end.
    let mut total_budget = 0.0;
    let mut mtd_total = 0.0;
    let mut forecast_total = 0.0;
    let mut rows = String::new();
    let mut services: Vec<(&String, &bearing_metrics::ServiceOutcome)> =
        snap.outcomes.services.iter().collect();
    services.sort_by(|a, b| {
        b.1.spend_vs_budget
            .unwrap_or(0.0)
            .partial_cmp(&a.1.spend_vs_budget.unwrap_or(0.0))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (id, o) in &services {
        let cur = o.currency.clone().unwrap_or_else(|| "USD".into());
        let spent = o.monthly_cost.unwrap_or(0.0);
        let forecast = o.forecast_monthly_cost.unwrap_or(spent);
        let budget = o.monthly_budget.unwrap_or(0.0);
        total_budget += budget;
        mtd_total += spent;
        forecast_total += forecast;
        let over = o.spend_vs_budget.is_some_and(|v| v > 1.0);
        let st = if o.spend_vs_budget.is_none() {
            Status::NoData
        } else if over {
            Status::OffTrack
        } else if o.spend_vs_budget.is_some_and(|v| v > 0.9) {
            Status::AtRisk
        } else {
            Status::Met
        };
        let anomaly = anomalies.get(*id).copied().unwrap_or(0.0);
        let _ = write!(
            rows,
            r#"<tr><td><a href="/services/{}"><b>{}</b></a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td></tr>"#,
            url(id),
            esc(id),
            money(spent, &cur),
            money(forecast, &cur),
            if budget > 0.0 {
                money(budget, &cur)
            } else {
                "–".into()
            },
            svg::budget_bar(spent, forecast, budget),
            o.spend_vs_budget.map_or("–".into(), percent),
            st.badge(),
            if anomaly > 0.0 {
                format!(r#"<span class="badge risk">▲ {anomaly:.0} day(s)</span>"#)
            } else {
                "–".into()
            },
        );
    }
    // Cumulative month-to-date line and forecast.
    let mut cum = Vec::new();
    let mut acc = 0.0;
    for (t, v) in daily_cost.iter().filter(|(t, _)| *t > month_start) {
        acc += v;
        cum.push((*t - chrono::Duration::hours(12), acc));
    }
    let month_end = if now.month() == 12 {
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .unwrap_or(now);
    let forecast_line = match cum.last() {
        Some(last) => vec![*last, (month_end, forecast_total.max(last.1))],
        None => vec![],
    };
    let month_chart = TimeChart {
        title: "Spend this month against budget",
        series: vec![
            Series {
                name: "month to date".into(),
                color: BLUE,
                points: cum,
                dashed: false,
                area: true,
            },
            Series {
                name: "forecast".into(),
                color: if forecast_total > total_budget {
                    RED
                } else {
                    GREY
                },
                points: forecast_line,
                dashed: true,
                area: false,
            },
        ],
        rules: vec![Rule {
            label: format!("budget {}", money(total_budget, "USD")),
            value: total_budget,
            color: AMBER,
        }],
        markers: vec![],
        fmt: &|v| money_short(v),
        height: 240,
        zero: true,
        wide: false,
        seconds: false,
    }
    .render();
    let daily_chart = TimeChart {
        title: "Daily cost, 90 days",
        series: vec![Series {
            name: "daily cost".into(),
            color: BLUE,
            points: daily_cost,
            dashed: false,
            area: true,
        }],
        rules: vec![],
        markers: vec![],
        fmt: &|v| money_short(v),
        height: 240,
        zero: true,
        wide: false,
        seconds: false,
    }
    .render();
    let st = if forecast_total > total_budget {
        "off"
    } else {
        "met"
    };
    let body = format!(
        r#"<h1>Cost against budget</h1><p class="lede">FOCUS cost rows attributed to services through the intent's cost match. Forecast: month-to-date plus the trailing 7-day daily mean for the days left.</p>
<div class="grid g4 strip">{}{}{}{}</div>
<div class="grid g2"><section class="card"><h2>This month</h2>{month_chart}<div class="legend"><span><i style="background:{BLUE}"></i>spent</span><span><i style="background:{GREY}"></i>forecast (dashed)</span><span><i style="background:{AMBER}"></i>budget</span></div></section><section class="card"><h2>Daily cost</h2>{daily_chart}<p class="mute small">Weekends are cheaper; spikes are the anomalies flagged below.</p></section></div>
<section class="card" style="margin-top:16px"><h2>By service</h2><table><thead><tr><th>Service</th><th class="num">Month to date</th><th class="num">Forecast</th><th class="num">Budget</th><th>Spent · forecast · budget line</th><th class="num">Forecast / budget</th><th>Status</th><th class="num">Anomalies (30d)</th></tr></thead><tbody>{rows}</tbody></table></section>
{waste}"#,
        kpi("", &money(mtd_total, "USD"), "spent this month"),
        kpi(st, &money(forecast_total, "USD"), "month-end forecast"),
        kpi("", &money(total_budget, "USD"), "monthly budget"),
        kpi(
            st,
            &percent(if total_budget > 0.0 {
                forecast_total / total_budget
            } else {
                f64::NAN
            }),
            "forecast / budget"
        ),
    );
    Ok(render(&state, "Cost", Nav::Cost, &body))
}

/// Window of the waste and savings section.
const WASTE_WINDOW: Duration = Duration::from_days(14);

/// The cost page's "Waste and savings" section: idle cost and efficiency by
/// service, the largest rightsizing opportunities with their evidence, and
/// the rightsizings applied with their expected and realised savings.
fn waste_section(
    ds: &Dataset,
    intent: &bearing_intent::Intent,
    actions: &[bearing_events::Action],
    now: DateTime<Utc>,
) -> String {
    let no = BTreeMap::new();
    let mut idle_rows = String::new();
    let mut idle_total = 0.0;
    let mut currency = "USD".to_string();
    let mut idle: Vec<(String, f64, Option<f64>, usize)> = intent
        .services
        .iter()
        .filter_map(|s| {
            let scope = svc_scope(&s.id);
            let v = bearing_metrics::evaluate(ds, "cost.idle", &scope, &no, WASTE_WINDOW, now);
            let e =
                bearing_metrics::evaluate(ds, "cost.efficiency", &scope, &no, WASTE_WINDOW, now);
            if let Some(c) = &v.currency {
                currency.clone_from(c);
            }
            v.value.map(|x| (s.id.clone(), x, e.value, v.samples))
        })
        .collect();
    idle.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (id, x, eff, n) in &idle {
        idle_total += x;
        let _ = write!(
            idle_rows,
            r#"<tr><td><a href="/services/{}"><b>{}</b></a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{n}</td></tr>"#,
            url(id),
            esc(id),
            money(*x, &currency),
            eff.map_or("–".into(), percent),
        );
    }
    let all = bearing_adapt::rightsize::candidates(ds, &Scope::default(), &no, WASTE_WINDOW, now);
    let mut opportunity = 0.0;
    let mut top_rows = String::new();
    for c in all
        .iter()
        .filter(|c| c.sizing.saving_per_month > 0.0 || !c.held_cuts.is_empty())
    {
        let r = &c.sizing;
        opportunity += r.saving_per_month.max(0.0);
        if top_rows.matches("<tr>").count() >= 8 {
            continue;
        }
        let state = match &c.held {
            Some(why) => format!(
                r#"<span class="badge risk">held</span> {}: {}"#,
                esc(&c.held_summary()),
                esc(why)
            ),
            None => format!("{} risk", esc(&r.risk)),
        };
        let _ = write!(
            top_rows,
            r#"<tr><td><a href="/services/{}">{}</a></td><td>{}</td><td>{} → {}</td><td>{} → {}</td><td class="num">{}</td><td>{state}</td><td class="mute small">p95 CPU {}, peak memory {}; {}; {} rows, {:.0} h</td></tr>"#,
            url(&r.service),
            esc(&r.service),
            esc(&r.workload),
            bearing_metrics::format_cpu(r.cpu_request),
            bearing_metrics::format_cpu(r.cpu_recommended),
            bearing_metrics::format_memory(r.ram_request),
            bearing_metrics::format_memory(r.ram_recommended),
            money(
                r.saving_per_month,
                r.currency.as_deref().unwrap_or(&currency)
            ),
            bearing_metrics::format_cpu(r.cpu_p95),
            bearing_metrics::format_memory(r.ram_peak),
            r.pods.map_or(
                "totals of all pods (pod count unknown)".into(),
                |p| format!("per pod, {p:.1} pod(s)")
            ),
            r.samples,
            r.hours,
        );
    }
    let mut realised_rows = String::new();
    let (mut expected_total, mut realised_total) = (0.0, 0.0);
    for a in actions.iter().filter(|a| {
        a.change
            .as_ref()
            .and_then(|c| c.get("action"))
            .and_then(Value::as_str)
            == Some("rightsize")
            && a.status == bearing_events::ActionStatus::Applied
    }) {
        let expected = a
            .evidence
            .pointer("/rightsizing/saving_per_month")
            .and_then(Value::as_f64);
        let effect = a.outcome.as_ref().and_then(|o| o.get("rightsize"));
        let realised = effect
            .and_then(|e| e.get("realised_saving_per_month"))
            .and_then(Value::as_f64);
        expected_total += expected.unwrap_or(0.0);
        realised_total += realised.unwrap_or(0.0);
        let slo = match effect
            .and_then(|e| e.get("slo_held"))
            .and_then(Value::as_bool)
        {
            Some(true) => "held".to_string(),
            Some(false) => r#"<span class="badge risk">missed</span>"#.to_string(),
            None if effect.is_some() => "no SLO".to_string(),
            None => "not measured yet".to_string(),
        };
        let _ = write!(
            realised_rows,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{slo}</td></tr>"#,
            a.created_at.format("%Y-%m-%d"),
            esc(a.service.as_deref().unwrap_or("")),
            esc(a
                .change
                .as_ref()
                .and_then(|c| c.get("workload"))
                .and_then(Value::as_str)
                .unwrap_or("")),
            expected.map_or("–".into(), |v| money(v, &currency)),
            realised.map_or("–".into(), |v| money(v, &currency)),
        );
    }
    let empty = |cols: usize, text: &str| {
        format!(r#"<tr><td colspan="{cols}" class="mute">{text}</td></tr>"#)
    };
    if idle_rows.is_empty() {
        idle_rows = empty(4, "no requests and usage ingested (OpenCost allocations)");
    }
    if top_rows.is_empty() {
        top_rows = empty(7, "no workload to resize");
    }
    if realised_rows.is_empty() {
        realised_rows = empty(
            6,
            "no rightsizing applied yet (<code>bearing rightsize --write</code> or an <code>action: rightsize</code> rule)",
        );
    }
    format!(
        r#"<section class="card" style="margin-top:16px" id="waste"><h2>Waste and savings</h2><p class="mute small">Requests against usage over the last 14 days (OpenCost allocations). Idle cost: requested but unused, priced. Rightsizing: p95 CPU and peak memory plus 15%, at least 25m / 250Mi; cuts are held while a service's error budget burns.</p>
<div class="grid g4 strip">{}{}{}{}</div>
<div class="grid g2"><div><h3>Idle cost by service</h3><table><thead><tr><th>Service</th><th class="num">Idle (14d)</th><th class="num">Efficiency</th><th class="num">Rows</th></tr></thead><tbody>{idle_rows}</tbody></table></div>
<div><h3>Realised vs expected savings</h3><table><thead><tr><th>Applied</th><th>Service</th><th>Workload</th><th class="num">Expected / month</th><th class="num">Realised / month</th><th>SLO</th></tr></thead><tbody>{realised_rows}</tbody></table></div></div>
<h3>Top rightsizing opportunities</h3><table><thead><tr><th>Service</th><th>Workload</th><th>CPU request</th><th>Memory request</th><th class="num">Saving / month</th><th>Risk</th><th>Evidence</th></tr></thead><tbody>{top_rows}</tbody></table></section>"#,
        kpi("", &money(idle_total, &currency), "idle cost, 14 days"),
        kpi(
            "",
            &money(opportunity, &currency),
            "savings opportunity / month"
        ),
        kpi(
            "",
            &money(expected_total, &currency),
            "expected from applied / month"
        ),
        kpi("", &money(realised_total, &currency), "realised / month"),
    )
}

/// Pipelines: per pipeline a typical run's jobs on a time axis with the
/// critical path, the jobs' figures, minutes and queue time by day, and the
/// recommendations of `bearing pipelines insights` (without file:line: the
/// server does not read repositories).
async fn pipelines_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let now = Utc::now();
    let window = Duration::from_days(30);
    let report = state.loop_().with_dataset(|ds| {
        bearing_metrics::pipeline_report(ds, &Scope::default(), window, now, &[])
    });
    let actions = state.store().actions().await?;
    let accepted = accepted_changes(&actions);
    let minutes: f64 = report.pipelines.iter().map(|p| p.minutes).sum();
    let cost: f64 = report.pipelines.iter().map(|p| p.cost).sum();
    let wasted: f64 = report.pipelines.iter().map(|p| p.wasted_minutes).sum();
    let weekly_saving: f64 = report.insights.iter().map(|i| i.money_per_week).sum();
    let mut recs = String::new();
    for i in report.insights.iter().take(25) {
        let objective = match i.objective {
            bearing_metrics::Objective::LeadTime => "lead time",
            bearing_metrics::Objective::Cost => "cost",
        };
        let mut saving = Vec::new();
        if i.minutes_per_week > 0.0 {
            saving.push(format!(
                "{:.0} CI min/week · {}",
                i.minutes_per_week,
                usd(i.money_per_week)
            ));
        }
        if i.run_seconds > 0.0 {
            saving.push(format!("up to {} per run", duration(i.run_seconds)));
        }
        let _ = write!(
            recs,
            r#"<tr><td><span class="layer">{objective}</span></td><td><a href="/services/{}">{}</a> / {}</td><td>{}</td><td class="small">{}</td><td class="small mono">{}{}</td></tr>"#,
            url(&i.service),
            esc(&i.service),
            esc(&i.pipeline),
            esc(&i.message),
            esc(&saving.join("; ")),
            esc(&i
                .records
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")),
            if i.record_count > 2 {
                format!(" +{}", i.record_count - 2)
            } else {
                String::new()
            },
        );
    }
    let mut cards = String::new();
    let mut shown: Vec<&bearing_metrics::PipelineSummary> = report.pipelines.iter().collect();
    shown.sort_by(|a, b| b.minutes.total_cmp(&a.minutes));
    for p in shown.iter().take(12) {
        let bars: Vec<svg::GanttBar<'_>> = p
            .typical_run
            .iter()
            .map(|b| svg::GanttBar {
                label: &b.job,
                queued: b.queued,
                started: b.started,
                finished: b.finished,
                critical: b.critical,
            })
            .collect();
        let gantt = svg::gantt(
            &format!("A typical run of {} / {}", p.service, p.pipeline),
            &bars,
            RED,
            BLUE,
        );
        let mut rows = String::new();
        for j in &p.jobs {
            let opt = |v: Option<f64>| v.map_or("–".into(), duration);
            let _ = write!(
                rows,
                r#"<tr><td><b>{}</b></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&j.job),
                j.runs,
                opt(j.duration_p50),
                opt(j.duration_p90),
                opt(j.queue_p50),
                j.success_rate.map_or("–".into(), percent),
                colored(
                    j.flaky_rate.map_or("–".into(), percent),
                    j.flaky_rate.is_some_and(|f| f > 0.0)
                ),
                percent(j.critical_share),
                number(j.minutes),
            );
        }
        let day = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(12, 0, 0))
                .map(|t| t.and_utc())
        };
        let minutes_chart = TimeChart {
            title: "CI minutes per day",
            series: vec![Series {
                name: "minutes".into(),
                color: BLUE,
                points: p
                    .daily
                    .iter()
                    .filter_map(|(d, m, _)| Some((day(d)?, *m)))
                    .collect(),
                dashed: false,
                area: true,
            }],
            rules: vec![],
            markers: vec![],
            fmt: &|v| number(v),
            height: 160,
            zero: true,
            wide: false,
            seconds: false,
        }
        .render();
        let queue_chart = TimeChart {
            title: "Queue time p50 per day",
            series: vec![Series {
                name: "queue p50".into(),
                color: AMBER,
                points: p
                    .daily_queue
                    .iter()
                    .filter_map(|(d, q)| Some((day(d)?, *q)))
                    .collect(),
                dashed: false,
                area: false,
            }],
            rules: vec![],
            markers: vec![],
            fmt: &|v| duration(v),
            height: 160,
            zero: true,
            wide: false,
            seconds: true,
        }
        .render();
        let _ = write!(
            cards,
            r#"<section class="card" style="margin-top:16px"><h2><a href="/services/{}">{}</a> / {}</h2><p class="mute small">{} runs · wall time p50 {} · {} CI minutes · {} · {} minutes wasted (30 days)</p>
<h3 class="small mute">A typical run (median wall time); critical path in red, the wait for a runner pale</h3>{gantt}
<table><thead><tr><th>Job</th><th class="num">Runs</th><th class="num">p50</th><th class="num">p90</th><th class="num">Queue p50</th><th class="num">Success</th><th class="num">Flaky</th><th class="num">Critical path</th><th class="num">Minutes</th></tr></thead><tbody>{rows}</tbody></table>
<div class="grid g2" style="margin-top:12px"><div>{minutes_chart}</div><div>{queue_chart}</div></div></section>"#,
            url(&p.service),
            esc(&p.service),
            esc(&p.pipeline),
            p.runs,
            p.wall_p50.map_or("–".into(), duration),
            number(p.minutes),
            usd(p.cost),
            number(p.wasted_minutes),
        );
    }
    if cards.is_empty() {
        cards = r#"<section class="card"><p class="mute">No pipeline jobs in the last 30 days: ingest GitHub <code>workflow_job</code> webhooks, GitLab job or pipeline hooks, or CDEvents <code>taskrun</code> events.</p></section>"#.into();
    }
    let body = format!(
        r#"<h1>Pipelines</h1><p class="lede">Where CI loses time and money over the last 30 days: each pipeline's jobs, the chain of jobs that sets a run's wall time (critical path), flaky jobs, queueing and wasted minutes, with what to change. <code>bearing pipelines insights --repo DIR</code> adds the workflow file and line.</p>
<div class="grid g4 strip">{}{}{}{}</div>
<section class="card" style="margin-top:16px"><h2>What to change</h2><table><thead><tr><th>Serves</th><th>Pipeline</th><th>Finding and change</th><th>Saving</th><th>Records</th></tr></thead><tbody>{}</tbody></table></section>
{accepted}
{cards}"#,
        kpi("", &number(minutes), "CI minutes (30 days)"),
        kpi("", &usd(cost), "CI cost (30 days)"),
        kpi(
            if wasted > 0.0 { "risk" } else { "" },
            &number(wasted),
            "minutes wasted"
        ),
        kpi("", &usd(weekly_saving), "CI cost saved per week if changed"),
        if recs.is_empty() {
            r#"<tr><td colspan="5" class="mute">nothing stands out</td></tr>"#.to_string()
        } else {
            recs
        },
    );
    Ok(render(&state, "Pipelines", Nav::Pipelines, &body))
}

/// Accepted pipeline changes (`bearing pipelines insights --accept`) with
/// the expected saving per week next to the one `bearing reconcile` measured.
fn accepted_changes(actions: &[bearing_events::Action]) -> String {
    let mut rows = String::new();
    let mut logged: Vec<&bearing_events::Action> = actions
        .iter()
        .filter(|a| bearing_adapt::pipeline::is_pipeline(a))
        .collect();
    logged.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    for a in logged.iter().take(25) {
        let e = &a.evidence["expected"];
        let m = a.outcome.as_ref().map(|o| &o["pipeline"]);
        let saving = |v: &Value, min: &str, usd_key: &str, lead: &str| {
            let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
            format!(
                "{:.1} CI min · {} · {:.1} min waiting",
                f(min),
                usd(f(usd_key)),
                f(lead)
            )
        };
        let expected = saving(
            e,
            "minutes_per_week",
            "money_per_week",
            "lead_time_minutes_per_week",
        );
        let (realised, verdict) = match m {
            Some(m) => (
                saving(
                    m,
                    "realised_minutes_per_week",
                    "realised_money_per_week",
                    "realised_lead_time_minutes_per_week",
                ),
                match (m["verdict"].as_str(), m["worse"].as_bool()) {
                    (_, Some(true)) => r#"<span class="badge risk">worse</span>"#.to_string(),
                    (Some("unchanged"), _) => {
                        r#"<span class="badge risk">no saving</span>"#.to_string()
                    }
                    (v, _) => esc(v.unwrap_or("?")),
                },
            ),
            None => ("–".into(), "not measured yet".into()),
        };
        let _ = write!(
            rows,
            r#"<tr><td>{}</td><td class="small mono">{}</td><td class="num small">{}</td><td class="num small">{}</td><td>{verdict}</td></tr>"#,
            a.created_at.format("%Y-%m-%d"),
            esc(a
                .evidence
                .pointer("/target/id")
                .and_then(Value::as_str)
                .unwrap_or(&a.id)),
            esc(&expected),
            esc(&realised),
        );
    }
    if rows.is_empty() {
        rows = r#"<tr><td colspan="5" class="mute">no change accepted yet (<code>bearing pipelines insights --accept ID</code>)</td></tr>"#.into();
    }
    format!(
        r#"<section class="card" style="margin-top:16px"><h2>Accepted changes: realised vs expected savings</h2><p class="mute small">Per week. Measured by <code>bearing reconcile</code> over a window after the change, once that window holds at least {} runs of the job.</p><table><thead><tr><th>Accepted</th><th>Recommendation</th><th class="num">Expected / week</th><th class="num">Realised / week</th><th>Result</th></tr></thead><tbody>{rows}</tbody></table></section>"#,
        bearing_adapt::pipeline::MIN_RUNS_AFTER
    )
}

/// Dollars with cents: CI minutes cost fractions of a dollar.
fn usd(v: f64) -> String {
    if v.is_finite() {
        format!("${v:.2}")
    } else {
        "–".into()
    }
}

/// Findings past their SLA, oldest first, and open findings by severity.
async fn security_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let intent = state.loop_().intent().clone();
    let sla = intent.security_sla();
    let now = Utc::now();
    let org = Scope::default();
    // The work list: every open finding with its threat, SLA and priority.
    let p = state
        .loop_()
        .with_dataset(|ds| bearing_metrics::threat::priorities(ds, &org, now, WORK_TOP));
    let krs = bearing_metrics::threat::key_result_effects(&intent, &org, &p);
    let mut by_age: Vec<&bearing_metrics::threat::Priority> = p.findings.iter().collect();
    by_age.sort_by_key(|f| f.first_seen);
    let sevs = ["critical", "high", "medium", "low"];
    let mut open_by: BTreeMap<&str, usize> = BTreeMap::new();
    let mut past_by: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows = String::new();
    let mut past_rows = 0;
    for f in by_age {
        let sev = f.severity.name();
        *open_by.entry(sev).or_default() += 1;
        if !f.past_sla {
            continue;
        }
        *past_by.entry(sev).or_default() += 1;
        past_rows += 1;
        let age = f.age_seconds as f64;
        let limit = f.sla_seconds.unwrap_or_default() as f64;
        let _ = write!(
            rows,
            r#"<tr><td><span class="sev {sev}">{sev}</span></td><td class="mono">{}</td><td>{}</td><td>{}</td><td class="small mono">{}</td><td class="small">{}</td><td class="small">{}</td><td class="num">{}</td><td class="num" title="{}">{}</td><td class="num" style="color:{RED};font-weight:650">{}</td></tr>"#,
            esc(f.key.split('|').next().unwrap_or_default()),
            esc(f.key.split('|').nth(1).unwrap_or("–")),
            service_link(f.service.as_deref()),
            esc(&f.target),
            esc(&f.scanner),
            f.first_seen.format("%Y-%m-%d"),
            duration(age),
            esc(f.sla.as_deref().unwrap_or_default()),
            duration(limit),
            duration(age - limit),
        );
    }
    let mut kpis = String::new();
    for s in sevs {
        let n = past_by.get(s).copied().unwrap_or(0);
        let _ = write!(
            kpis,
            "{}",
            kpi(
                if n > 0 { "off" } else { "met" },
                &format!("{n} / {}", open_by.get(s).copied().unwrap_or(0)),
                &format!("{s}: past SLA / open")
            )
        );
    }
    let weeks = weekly(now, 13);
    let (open_series, past_series) = state.loop_().with_dataset(|ds| {
        (
            series_at(
                ds,
                "security.open_findings",
                &org,
                Duration::from_days(30),
                &weeks,
            ),
            series_at(
                ds,
                "security.findings_past_sla",
                &org,
                Duration::from_days(30),
                &weeks,
            ),
        )
    });
    let chart = TimeChart {
        title: "Open findings and findings past SLA, weekly",
        series: vec![
            Series {
                name: "open".into(),
                color: BLUE,
                points: open_series,
                dashed: false,
                area: true,
            },
            Series {
                name: "past SLA".into(),
                color: RED,
                points: past_series,
                dashed: false,
                area: true,
            },
        ],
        rules: vec![],
        markers: vec![],
        fmt: &|v| format!("{v:.0}"),
        height: 200,
        zero: true,
        wide: true,
        seconds: false,
    }
    .render();
    let work = work_list(&p, &krs);
    let table = if past_rows == 0 {
        r#"<p class="badge met">✔ no open finding is past its SLA</p>"#.to_string()
    } else {
        format!(
            r#"<table><thead><tr><th>Severity</th><th>Vulnerability / rule</th><th>Package</th><th>Service</th><th>Target</th><th>Scanner</th><th>First seen</th><th class="num">Age</th><th class="num">SLA</th><th class="num">Over by</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let body = format!(
        r#"<h1>Security SLAs</h1><p class="lede">Findings from every scanner, deduplicated by (vulnerability, package, target); fixed when a later scan of the same target no longer reports them. SLA: critical {}, high {}, medium {}, low {}{}.</p>
<div class="grid g4 strip">{kpis}</div>
<section class="card"><h2>Findings past SLA, oldest first ({past_rows})</h2>{table}</section>
{work}
<section class="card" style="margin-top:16px"><h2>Trend</h2>{chart}<div class="legend"><span><i style="background:{BLUE}"></i>open</span><span><i style="background:{RED}"></i>past SLA</span></div></section>"#,
        days(sla.critical),
        days(sla.high),
        days(sla.medium),
        days(sla.low),
        threat_slas(&sla),
    );
    Ok(render(&state, "Security", Nav::Security, &body))
}

/// Findings "fixing the top N" counts on the security page.
const WORK_TOP: usize = 10;
/// Findings listed in the work list.
const WORK_ROWS: usize = 25;

fn service_link(s: Option<&str>) -> String {
    s.map(|s| format!(r#"<a href="/services/{}">{}</a>"#, url(s), esc(s)))
        .unwrap_or_default()
}

/// `, known exploited 7d, EPSS ≥ 0.5 15d` when the intent sets them.
fn threat_slas(sla: &bearing_intent::SecuritySla) -> String {
    let mut out = String::new();
    if let Some(k) = sla.kev {
        out.push_str(&format!(", known exploited (KEV) {}", days(k)));
    }
    if let Some(e) = &sla.epss {
        out.push_str(&format!(", EPSS ≥ {} {}", e.at_least, days(e.within)));
    }
    out
}

/// The "Security work list" section: open findings by threat-aware
/// priority with their evidence, and what fixing the top ones would do.
fn work_list(
    p: &bearing_metrics::threat::Priorities,
    krs: &[bearing_metrics::threat::KrEffect],
) -> String {
    let mut rows = String::new();
    for f in p.findings.iter().take(WORK_ROWS) {
        let sev = f.severity.name();
        let kev = match &f.threat.kev {
            Some(_) => format!(
                r#"<span class="badge off">KEV</span> {}"#,
                esc(&f.threat.kev_text())
            ),
            None => "–".into(),
        };
        let epss = match f.threat.epss {
            Some(_) => esc(&f.threat.epss_text()),
            None => "–".into(),
        };
        let _ = write!(
            rows,
            r#"<tr><td class="num">{}</td><td class="num mono">{:.3}</td><td><span class="sev {sev}">{sev}</span></td><td class="mono">{}</td><td>{}</td><td>{}</td><td class="small">{kev}</td><td class="small">{epss}</td><td class="small mono">{}</td><td class="small">{}</td></tr><tr><td></td><td colspan="9" class="small">{}</td></tr>"#,
            f.rank,
            f.priority,
            esc(f.cve.as_deref().unwrap_or(&f.key)),
            esc(f.key.split('|').nth(1).unwrap_or("–")),
            service_link(f.service.as_deref()),
            if f.environments.is_empty() {
                esc(&f.target)
            } else {
                format!("{} ({})", esc(&f.target), esc(&f.environments.join(", ")))
            },
            if f.past_sla { "past SLA" } else { "" },
            esc(&f.explain),
        );
    }
    let (a, b) = (&p.now, &p.after_top_n);
    let mut effects = format!(
        "Fixing the top {}: findings past SLA {} → {}, known exploited open {} → {}, KEV past due {} → {}, EPSS-weighted exposure {:.2} → {:.2}.",
        p.top_n,
        a.findings_past_sla,
        b.findings_past_sla,
        a.kev_open,
        b.kev_open,
        a.kev_past_due,
        b.kev_past_due,
        a.epss_weighted_exposure,
        b.epss_weighted_exposure
    );
    for k in krs {
        let word = |m: bool| if m { "met" } else { "not met" };
        let _ = write!(
            effects,
            " {} <span class=\"mono\">{} {}</span>: {} ({}) → {} ({}).",
            esc(&k.objective),
            esc(&k.metric),
            esc(&k.target),
            k.now,
            word(k.met_now),
            k.after,
            word(k.met_after)
        );
    }
    let feeds = if p.feeds.is_empty() {
        "no threat feed kept (`bearing ingest kev.json epss.csv`); scanner EPSS/KEV fields only"
            .to_string()
    } else {
        p.feeds.join(", ")
    };
    format!(
        r#"<section class="card" style="margin-top:16px"><h2>Security work list</h2><p class="small">By threat-aware priority = severity × likelihood (1 if in KEV, else EPSS) × tier × exposure (docs/metrics.md). Feeds: {}.</p><p>{effects}</p><table><thead><tr><th class="num">#</th><th class="num">Priority</th><th>Severity</th><th>Vulnerability</th><th>Package</th><th>Service</th><th>KEV</th><th>EPSS</th><th>Runs in</th><th>SLA</th></tr></thead><tbody>{rows}</tbody></table></section>"#,
        esc(&feeds)
    )
}

async fn decisions_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let decisions = state
        .store()
        .decisions(&DecisionQuery {
            service: None,
            since: None,
            limit: Some(200),
        })
        .await?;
    let body = format!(
        r#"<h1>Decision log</h1><p class="lede">Every guardrail decision with its reasons; open one for the full explanation and the input it was made on.</p><section class="card">{}</section>"#,
        decisions_table(&decisions, true)
    );
    Ok(render(&state, "Decisions", Nav::Decisions, &body))
}

async fn decision_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let Some(d) = state.store().decision(&id).await? else {
        return Err(ApiError::not_found(format!("no decision `{id}`")));
    };
    let mut vrows = String::new();
    if let Some(vs) = d.decision.get("violations").and_then(Value::as_array) {
        for v in vs {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let waiver = v
                .get("waiver")
                .filter(|w| !w.is_null())
                .map(|w| {
                    format!(
                        "waived by {} ({})",
                        w.get("owner").and_then(Value::as_str).unwrap_or("?"),
                        w.get("reason").and_then(Value::as_str).unwrap_or("")
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                vrows,
                r#"<tr><td><b>{}</b><div class="mute small">{}</div></td><td>{}</td><td>{}</td><td>{}<div class="mute small">{}</div></td><td class="small">{}</td></tr>"#,
                esc(&s("guardrail")),
                esc(&s("kind")),
                esc(&s("objective")),
                esc(&s("effect")),
                esc(&s("message")),
                esc(&s("remediation")),
                esc(&waiver)
            );
        }
    }
    let violations = if vrows.is_empty() {
        r#"<p class="mute">No guardrail objected to this change.</p>"#.to_string()
    } else {
        format!(
            r#"<table><thead><tr><th>Guardrail</th><th>Protects</th><th>Effect</th><th>Why, and how to fix</th><th>Waiver</th></tr></thead><tbody>{vrows}</tbody></table>"#
        )
    };
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let body = format!(
        r#"<h1>Decision {} {}</h1><p class="lede">{} · service {} · environment {} · policy revision <span class="mono">{}</span> · input digest <span class="mono">{}</span></p>
<section class="card"><h2>Violations</h2>{violations}</section>
<div class="grid g2" style="margin-top:16px"><section class="card"><h2>Input</h2><pre class="mono" style="white-space:pre-wrap;max-height:420px;overflow:auto">{}</pre></section><section class="card"><h2>Full decision</h2><pre class="mono" style="white-space:pre-wrap;max-height:420px;overflow:auto">{}</pre></section></div>"#,
        esc(&d.id),
        result_badge(&d.result),
        d.time.format("%Y-%m-%d %H:%M:%S UTC"),
        esc(d.service.as_deref().unwrap_or("–")),
        esc(d.environment.as_deref().unwrap_or("–")),
        esc(&d.policy_revision.chars().take(12).collect::<String>()),
        esc(&d.input_digest.chars().take(12).collect::<String>()),
        esc(&pretty(&d.input)),
        esc(&pretty(&d.decision)),
    );
    Ok(render(&state, "Decision", Nav::Decisions, &body))
}

async fn plans_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&state, &headers).await?;
    let snap = state.snapshot();
    let mut rows = String::new();
    // Plans reconcile tightened first.
    let mut plans: Vec<&bearing_events::DeliveryPlan> = snap.plans.iter().collect();
    plans.sort_by_key(|p| {
        (
            !(p.freeze || p.strategy != "direct" || !p.extra_gates.is_empty()),
            p.service.clone(),
        )
    });
    for p in plans {
        let _ = write!(
            rows,
            r#"<tr><td><a href="/services/{}"><b>{}</b></a></td><td>{}</td><td>{}</td><td>{}</td><td class="small">{}</td><td class="small">{}</td></tr>"#,
            url(&p.service),
            esc(&p.service),
            strategy_pill(&p.strategy),
            if p.freeze {
                r#"<span class="badge off">✖ frozen</span>"#
            } else {
                r#"<span class="badge met">✔ open</span>"#
            },
            if p.extra_gates.is_empty() {
                "–".to_string()
            } else {
                esc(&p.extra_gates.join(", "))
            },
            esc(&p.reasons.join("; ")),
            p.updated_at.format("%Y-%m-%d %H:%M"),
        );
    }
    let plans = if rows.is_empty() {
        r#"<p class="mute">No delivery plans yet: run <code>bearing reconcile</code> (the server also runs it on a schedule).</p>"#.to_string()
    } else {
        format!(
            r#"<table><thead><tr><th>Service</th><th>Strategy</th><th>Deploys</th><th>Extra gates</th><th>Why</th><th>Updated</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let mut actions: Vec<&bearing_events::Action> = snap.actions.iter().collect();
    actions.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    let body = format!(
        r#"<h1>Delivery plans and actions</h1><p class="lede">What reconcile currently wants for each service (the guardrails enforce it), and every action with the effect measured after its window.</p>
<section class="card"><h2>Plans</h2>{plans}</section><section class="card" style="margin-top:16px"><h2>Actions</h2>{}</section>"#,
        actions_table(&actions)
    );
    Ok(render(&state, "Plans", Nav::Plans, &body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_held_cut_is_shown_next_to_the_raise() {
        let intent = bearing_intent::load_str(
            std::path::Path::new("bearing.yaml"),
            "version: 1\nteams: [{ id: a }]\nservices:\n  - id: web\n    team: a\n    cost: { match: { tags: { app: web } } }\n    slos: [{ id: avail, target: 99%, window: 30d, sli: { good: ok, total: all } }]\n",
        )
        .unwrap()
        .intent;
        let now = Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap();
        // CPU 2 cores requested, 0.1 used: a cut to 115m, held (900 good of
        // 1000 at 99%); memory 100 MiB requested, 1 GiB used: a raise
        let events: Vec<Event> = serde_json::from_value(serde_json::json!([
            {"id": "u", "source": "opencost", "time": "2026-03-10T00:00:00Z", "kind": "cost",
             "data": {"billed_cost": 1.536, "effective_cost": 1.536, "currency": "USD",
                "charge_period_start": "2026-03-10T00:00:00Z", "charge_period_end": "2026-03-11T00:00:00Z",
                "tags": {"app": "web"},
                "usage": {"workload": "shop/web/mixed", "minutes": 1440.0,
                    "cpu_request_cores": 2.0, "cpu_usage_cores": 0.1, "cpu_cost": 1.44,
                    "ram_request_bytes": 104857600.0, "ram_usage_bytes": 1073741824.0, "ram_cost": 0.096}}},
            {"id": "ok", "source": "t", "time": "2026-03-10T00:00:00Z", "kind": "metric_point",
             "service": "web", "data": {"name": "ok", "value": 900.0}},
            {"id": "all", "source": "t", "time": "2026-03-10T00:00:00Z", "kind": "metric_point",
             "service": "web", "data": {"name": "all", "value": 1000.0}}
        ]))
        .unwrap();
        let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
        let html = waste_section(&ds, &intent, &[], now);
        assert!(
            html.contains("<td>2000m → 2000m</td><td>100Mi → 1178Mi</td>"),
            "{html}"
        );
        assert!(
            html.contains("CPU cut to 115m held: error budget"),
            "{html}"
        );
    }
}

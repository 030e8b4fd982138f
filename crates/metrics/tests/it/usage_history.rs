//! A generated utilisation history with known answers (worked out by hand
//! in `waste.rs`), shared with bearing-adapt's tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use bearing_events::Event;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
pub const MIB: f64 = 1024.0 * 1024.0;

pub fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap()
}

#[allow(clippy::too_many_arguments)]
pub fn usage_row(
    id: &str,
    start: DateTime<Utc>,
    minutes: f64,
    workload: &str,
    cpu: (f64, f64, f64),
    ram: (f64, f64, f64),
) -> Event {
    let at = start.to_rfc3339();
    let end = (start + chrono::Duration::minutes(minutes as i64)).to_rfc3339();
    serde_json::from_value(json!({"id": id, "source": "opencost", "time": at, "kind": "cost",
        "data": {"billed_cost": cpu.2 + ram.2, "effective_cost": cpu.2 + ram.2, "currency": "USD",
            "charge_period_start": at, "charge_period_end": end, "tags": {"app": "web"},
            "usage": {"workload": workload, "container": workload.rsplit('/').next(), "minutes": minutes,
                "cpu_request_cores": cpu.0, "cpu_usage_cores": cpu.1, "cpu_cost": cpu.2,
                "ram_request_bytes": ram.0, "ram_usage_bytes": ram.1, "ram_cost": ram.2}}}))
    .unwrap()
}

pub fn commitment_row(id: &str, status: &str, cost: f64) -> Event {
    let at = day(5).to_rfc3339();
    serde_json::from_value(
        json!({"id": id, "source": "focus", "time": at, "kind": "cost",
        "data": {"billed_cost": cost, "effective_cost": cost, "currency": "USD",
            "charge_period_start": at, "charge_period_end": at, "tags": {"app": "billing"},
            "commitment_id": "sp-1", "commitment_status": status}}),
    )
    .unwrap()
}

/// `api`: 10 days of 24 h, requests 2 cores and 4 GiB, CPU used 0.1·i on
/// day i, memory 1 GiB (2 GiB on day 10); priced 0.03 per core-hour and
/// 0.004 per GiB-hour, so 1.44 and 0.384 a day. `worker`: one 12 h row,
/// 1 core / 1 GiB requested, 0.01 core / 100 MiB used, 0.36 and 0.048.
/// `sidecar`: requests nothing, uses 0.05 core for 24 h at 0.036.
pub fn history() -> Vec<Event> {
    let mut ev = Vec::new();
    for i in 1..=10u32 {
        let ram_used = if i == 10 { 2.0 * GIB } else { GIB };
        ev.push(usage_row(
            &format!("api{i}"),
            day(i),
            1440.0,
            "shop/web/api",
            (2.0, 0.1 * f64::from(i), 1.44),
            (4.0 * GIB, ram_used, 0.384),
        ));
    }
    ev.push(usage_row(
        "worker",
        day(10),
        720.0,
        "shop/web/worker",
        (1.0, 0.01, 0.36),
        (GIB, 100.0 * MIB, 0.048),
    ));
    ev.push(usage_row(
        "sidecar",
        day(10),
        1440.0,
        "shop/web/sidecar",
        (0.0, 0.05, 0.036),
        (0.0, 0.0, 0.0),
    ));
    ev.push(commitment_row("used", "Used", 30.0));
    ev.push(commitment_row("unused", "Unused", 10.0));
    ev
}

/// SLO points of `service` on day `d`: `good` of 1000 (`ok` / `all`).
pub fn slo_points(service: &str, d: u32, good: f64) -> Vec<Event> {
    let at = day(d).to_rfc3339();
    [("ok", good), ("all", 1000.0)]
        .iter()
        .map(|(name, v)| {
            serde_json::from_value(
                json!({"id": format!("slo-{name}-{d}"), "source": "t", "time": at,
                "kind": "metric_point", "service": service, "data": {"name": name, "value": v}}),
            )
            .unwrap()
        })
        .collect()
}

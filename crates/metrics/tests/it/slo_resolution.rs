//! Burn-rate windows follow an SLO's resolution: with hourly points from
//! Prometheus the 5m and 30m windows cannot be measured, and Bearing says
//! "not enough resolution" instead of showing nothing.

use std::collections::BTreeMap;
use std::path::Path;

use bearing_events::{Event, MetricPoint, Payload};
use bearing_intent::{Duration, FilterValue, Scope};
use bearing_metrics::{Dataset, burn_alerts, evaluate};
use chrono::{DateTime, TimeZone, Utc};

const INTENT: &str = r#"
version: 1
teams: [{ id: a }]
services:
  - id: alpha
    team: a
    slos:
      - id: avail
        target: 99%
        window: 7d
        source:
          prometheus:
            url: http://prometheus:9090
            good: sum(increase(ok_total[{{.window}}]))
            total: sum(increase(all_total[{{.window}}]))
            resolution: 1h
"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// Hourly points over three days: 1000 events an hour, 50 bad (5x burn).
fn dataset() -> Dataset {
    let intent = bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
        .unwrap()
        .intent;
    let mut events = Vec::new();
    for h in 0..72 {
        let t = now() - chrono::TimeDelta::hours(h);
        for (which, value) in [("good", 950.0), ("total", 1000.0)] {
            let mut e = Event::new(
                format!("prometheus:alpha:avail:{which}:{}", t.timestamp()),
                "prometheus",
                t,
                Payload::MetricPoint(MetricPoint {
                    name: format!("slo:avail:{which}"),
                    value,
                    dimensions: BTreeMap::new(),
                }),
            );
            e.service = Some("alpha".into());
            events.push(e);
        }
    }
    Dataset::new(&intent, events, Vec::new(), Vec::new())
}

fn burn(ds: &Dataset, window: &str) -> bearing_metrics::MetricValue {
    let filter = BTreeMap::from([("window".to_string(), FilterValue::One(window.to_string()))]);
    let scope = Scope {
        service: Some("alpha".into()),
        ..Scope::default()
    };
    evaluate(
        ds,
        "slo.burn_rate",
        &scope,
        &filter,
        Duration::from_days(30),
        now(),
    )
}

#[test]
fn windows_finer_than_the_resolution_say_so() {
    let ds = dataset();
    let v = burn(&ds, "5m");
    assert_eq!(v.value, None);
    assert_eq!(
        v.note.as_deref(),
        Some("alpha/avail: not enough resolution: points every 1h, the 5m window needs finer ones")
    );
    // The hourly window is measured: 5% bad over a 1% budget.
    let v = burn(&ds, "1h");
    assert!((v.value.unwrap() - 5.0).abs() < 1e-9, "{v:?}");
    assert_eq!(v.note, None);

    let alerts = burn_alerts(&ds, "alpha", now());
    let by_short: Vec<(i64, bool, bool)> = alerts
        .iter()
        .map(|a| (a.short_window_seconds, a.note.is_some(), a.firing))
        .collect();
    // 1h/5m and 6h/30m cannot fire; 3d/6h burns 5x > 1x and fires.
    assert_eq!(
        by_short,
        [
            (300, true, false),
            (1_800, true, false),
            (21_600, false, true)
        ]
    );
    assert!(
        alerts[0]
            .note
            .as_deref()
            .unwrap()
            .contains("not enough resolution")
    );
}

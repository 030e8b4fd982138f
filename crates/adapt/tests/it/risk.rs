//! The change-risk model on the demo organisation's history.

use std::path::Path;

use bearing_adapt::risk::{self, ChangeInput};
use bearing_metrics::Dataset;
use chrono::{TimeZone, Utc};

#[test]
fn demo_history_trains_evaluates_and_scores() {
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let org = bearing_demo::generate(7, now);
    let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &org.intent_yaml)
        .unwrap()
        .intent;
    let ds = Dataset::new(&intent, org.events.clone(), Vec::new(), Vec::new());
    let (samples, history) = risk::samples(&intent, &org.events, &ds, now);
    let failed = samples.iter().filter(|s| s.failed).count();
    println!("demo: {} deployments, {failed} failed", samples.len());
    assert!(samples.len() > 100);
    assert!(failed > 5);
    // features come from changes: some deployments carry changed lines
    assert!(
        samples
            .iter()
            .any(|s| s.features[0].is_some_and(|l| l > 0.0))
    );
    let model = risk::train(&samples, risk::DEFAULT_MIN_AUC, now).unwrap();
    let ev = model.evaluation.clone().unwrap();
    println!(
        "demo: held-out AUC {:?} ± {:?}, Brier {:.4} vs base-rate {:.4}, n_test {}, failures {}",
        ev.auc, ev.auc_se, ev.brier, ev.brier_base_rate, ev.n_test, ev.positives_test
    );
    let s = risk::score_change(
        &model,
        &history,
        &ChangeInput {
            service: bearing_demo::FAILING_SERVICE.into(),
            lines_changed: Some(900.0),
            files_changed: Some(30.0),
            changes: Some(1.0),
            ..ChangeInput::default()
        },
        now,
    );
    assert!((0.0..=1.0).contains(&s.score));
    assert_eq!(s.features.len(), risk::FEATURES.len());
    // the failing service's recent failure rate is visible to the model
    assert!(
        s.features["service_failure_rate_30d"].is_some_and(|r| r > 0.15),
        "{s:?}"
    );
    // the demo's failures do not depend on the change: the model says it is advisory
    println!("demo score: {s:?}");
    if ev.auc.is_none_or(|a| a < risk::DEFAULT_MIN_AUC) {
        assert!(s.advisory.is_some(), "{s:?}");
    }
}

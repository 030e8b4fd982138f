//! The business release comparison (issue 14, item 4): around the release
//! that carries a feature, not around the latest routine deployment.
//!
//! `business.checkout_conversion` of `checkout`, one point a day at 12:00:
//! about 2.9% until the flag `one-click-checkout` is turned on 10-14 00:00,
//! about 3.4% after. A routine (unlabelled) deployment 10-26 12:00 is the
//! latest release of any kind. At 10-28 00:00 the comparison must be around
//! the flag: before (10-07, 10-14], after (10-14, 10-21], 7 points each.
//! The expected p-value is SciPy's, computed independently:
//! `scipy.stats.mannwhitneyu(AFTER, BEFORE, alternative='two-sided')`
//! (method 'auto': exact for 7 + 7 points without ties).

use bearing_events::Event;
use bearing_intent::{Duration, FilterValue, Scope};
use bearing_metrics::*;

use crate::fixture::*;

const BEFORE: [f64; 7] = [0.030, 0.027, 0.0305, 0.028, 0.0295, 0.0275, 0.031];
const AFTER: [f64; 7] = [0.033, 0.0355, 0.0306, 0.035, 0.034, 0.0335, 0.036];
/// `mannwhitneyu(AFTER, BEFORE)`: U = 48, p (exact, two-sided).
const SCIPY_P: f64 = 0.001_165_501_165_501_165_5;

fn events() -> Vec<Event> {
    let mut v = Vec::new();
    // 10-01 … 10-06: before the compared windows
    for d in 1..=6 {
        v.push(point(
            &format!("p{d:02}"),
            &format!("10-{d:02} 12:00"),
            "checkout",
            "checkout_conversion",
            0.029,
        ));
    }
    for (i, x) in BEFORE.iter().enumerate() {
        let d = 7 + i;
        v.push(point(
            &format!("p{d:02}"),
            &format!("10-{d:02} 12:00"),
            "checkout",
            "checkout_conversion",
            *x,
        ));
    }
    for (i, x) in AFTER.iter().enumerate() {
        let d = 14 + i;
        v.push(point(
            &format!("p{d:02}"),
            &format!("10-{d:02} 12:00"),
            "checkout",
            "checkout_conversion",
            *x,
        ));
    }
    for d in 21..=27 {
        v.push(point(
            &format!("p{d:02}"),
            &format!("10-{d:02} 12:00"),
            "checkout",
            "checkout_conversion",
            0.034,
        ));
    }
    v.push(flag(
        "flag-on",
        "10-14 00:00",
        "checkout",
        "one-click-checkout",
    ));
    v.push(deploy(
        "routine",
        "10-26 12:00",
        "checkout",
        "production",
        "r1",
        &[],
        &[],
    ));
    v
}

#[test]
fn compares_around_the_feature_flag_with_the_canary_judges_test() {
    let intent = crate::golden::intent();
    let ds = Dataset::new(&intent, events(), vec![], vec![]);
    let card = scorecard(&intent, &ds, t("10-28 00:00"), ScorecardFilter::default());
    let kr = card
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .find(|k| k.metric == "business.checkout_conversion")
        .unwrap();
    let c = kr.release_impact.as_ref().expect("a release comparison");
    assert_eq!(c.release.as_deref(), Some("flag-on"));
    assert_eq!(
        c.release_name.as_deref(),
        Some("flag one-click-checkout on")
    );
    assert_eq!(c.before_window, [t("10-07 00:00"), t("10-14 00:00")]);
    assert_eq!(c.after_window, [t("10-14 00:00"), t("10-21 00:00")]);
    assert_eq!((c.before_samples, c.after_samples), (7, 7));
    let mw = c.mann_whitney.expect("Mann-Whitney U");
    assert_eq!(mw.u1, 48.0);
    assert!(
        (mw.p_value - SCIPY_P).abs() < 1e-12,
        "{} vs SciPy {SCIPY_P}",
        mw.p_value
    );
    assert!(c.significant);

    // feature.time_to_value names the same release.
    let mut filter = std::collections::BTreeMap::new();
    filter.insert(
        "metric".to_string(),
        FilterValue::One("business.checkout_conversion".into()),
    );
    let scope = Scope {
        service: Some("checkout".into()),
        ..Scope::default()
    };
    let x = explain_with(
        &ds,
        "feature.time_to_value",
        &scope,
        &filter,
        Duration::from_days(30),
        t("10-28 00:00"),
    );
    assert!(
        x.records
            .iter()
            .any(|r| r.event_id == "flag-on" && r.role.contains("release")),
        "{:?}",
        x.records
    );
}

#[test]
fn a_routine_deployment_is_not_a_feature_release_but_a_labelled_one_is() {
    let intent = crate::golden::intent();
    let mut evs: Vec<Event> = events().into_iter().filter(|e| e.id != "flag-on").collect();
    let ds = Dataset::new(&intent, evs.clone(), vec![], vec![]);
    let card = scorecard(&intent, &ds, t("10-28 00:00"), ScorecardFilter::default());
    let kr = card
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .find(|k| k.metric == "business.checkout_conversion")
        .unwrap();
    assert!(kr.release_impact.is_none(), "{:?}", kr.release_impact);

    evs.push(deploy(
        "feat",
        "10-14 00:00",
        "checkout",
        "production",
        "f1",
        &[],
        &["feature:one-click-checkout"],
    ));
    let ds = Dataset::new(&intent, evs, vec![], vec![]);
    let card = scorecard(&intent, &ds, t("10-28 00:00"), ScorecardFilter::default());
    let c = card
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .find_map(|k| k.release_impact.clone())
        .unwrap();
    assert_eq!(c.release.as_deref(), Some("feat"));
    assert_eq!(
        c.release_name.as_deref(),
        Some("deployment feat (feature one-click-checkout)")
    );
    assert!(c.significant);
}

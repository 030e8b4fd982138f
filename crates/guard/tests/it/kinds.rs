//! Each built-in kind on small hand-written inputs.

use bearing_guard::{Attachment, Verdict};
use serde_json::json;

use crate::common::*;

#[test]
fn all_kinds_compile_and_a_clean_change_passes() {
    let e = engine(ALL_KINDS);
    let mut env = envelope("checkout", "production");
    env.strategy = Some("canary".into());
    env.checks.insert("tests".into(), "passed".into());
    env.attachments.scans.push(Attachment::new(
        "trivy.json",
        json!({"SchemaVersion": 2, "Results": []}),
    ));
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Allow, "{:#?}", d);
    assert_eq!(d.evaluated.len(), 9);
}

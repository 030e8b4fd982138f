//! What the gate answers: a verdict, the violations behind it with their
//! locations, remediation and waivers, and how to log it.

use std::sync::Arc;

use bearing_events::{DecisionRecord, DecisionSummary};
use bearing_intent::Mode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::Envelope;
use crate::locate::Location;

/// The outcome of a decision; ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Warn,
    /// A value the policy needs is known only after apply.
    Unknown,
    Deny,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Warn => "warn",
            Verdict::Unknown => "unknown",
            Verdict::Deny => "deny",
        }
    }

    /// The CLI exit code: 0 allow/warn, 1 deny, 3 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Allow | Verdict::Warn => 0,
            Verdict::Deny => 1,
            Verdict::Unknown => 3,
        }
    }
}

/// What a violation does to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Deny,
    Warn,
    Unknown,
    /// Recorded only (audit mode, or waived).
    Audit,
}

/// A waiver that applied to a violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedWaiver {
    pub owner: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: NaiveDate,
}

/// A waiver that no longer applies because it expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredWaiver {
    pub guardrail: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expired: NaiveDate,
}

/// One finding of one guardrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Guardrail id.
    pub guardrail: String,
    /// Guardrail kind (`iam_least_privilege`, `rego`, …).
    pub kind: String,
    /// The rule inside the guardrail (e.g. `iam_wildcard_action`, or a Conftest rule name).
    pub rule: String,
    /// The objective the guardrail protects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    pub mode: Mode,
    /// What the violation did to the verdict.
    pub effect: Effect,
    pub severity: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Other places the finding was reported at: for a SARIF result located
    /// in its artifact, the result's place in the `.sarif` report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_locations: Vec<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<AppliedWaiver>,
}

/// The gate's answer to one envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub time: DateTime<Utc>,
    pub result: Verdict,
    pub violations: Vec<Violation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_waivers: Vec<ExpiredWaiver>,
    /// Guardrails that applied to the change.
    #[serde(default)]
    pub evaluated: Vec<String>,
    /// Evaluation errors (time limit, runtime errors); they make the verdict `unknown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub input_digest: String,
    pub policy_revision: String,
    pub elapsed_us: u64,
    /// The data the decision read besides the envelope and its time (the
    /// service's plan and outcomes, the risk), kept so it can be replayed.
    #[serde(default, skip_serializing_if = "ReplayContext::is_null")]
    pub context: ReplayContext,
}

/// A decision's context as JSON, written once and shared by the decisions
/// made against one context for one service; with its digest, so that the
/// decision log can keep it once.
#[derive(Debug, Clone)]
pub struct ReplayContext(Arc<Replay>);

#[derive(Debug)]
struct Replay {
    raw: Box<RawValue>,
    text: Arc<str>,
    /// Taken when the decision log first asks for it.
    digest: std::sync::OnceLock<Arc<str>>,
}

impl ReplayContext {
    pub fn new(v: &serde_json::Value) -> ReplayContext {
        // A `Value` always serialises.
        ReplayContext::from_raw(serde_json::value::to_raw_value(v).unwrap_or_default())
    }

    fn from_raw(raw: Box<RawValue>) -> ReplayContext {
        ReplayContext(Arc::new(Replay {
            text: raw.get().into(),
            raw,
            digest: std::sync::OnceLock::new(),
        }))
    }

    pub fn is_null(&self) -> bool {
        self.0.text.as_ref() == "null"
    }

    /// The JSON text.
    pub fn text(&self) -> &Arc<str> {
        &self.0.text
    }

    /// SHA-256 of the JSON text.
    pub fn digest(&self) -> &Arc<str> {
        self.0
            .digest
            .get_or_init(|| crate::engine::sha256_hex(self.0.text.as_bytes()).into())
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0.text).unwrap_or_default()
    }
}

impl Default for ReplayContext {
    /// `null`, built once (the log writer takes every decision's context).
    fn default() -> Self {
        static NULL: std::sync::OnceLock<ReplayContext> = std::sync::OnceLock::new();
        NULL.get_or_init(|| ReplayContext::new(&serde_json::Value::Null))
            .clone()
    }
}

impl PartialEq for ReplayContext {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Serialize for ReplayContext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ReplayContext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(ReplayContext::from_raw)
    }
}

impl Decision {
    /// What the metrics read of the decision; equal to the summary of its
    /// record ([`DecisionRecord::summary`]).
    pub fn summary(&self, envelope: &Envelope) -> DecisionSummary {
        DecisionSummary {
            id: self.id.clone(),
            time: self.time,
            service: Some(envelope.service.clone()).filter(|s| !s.is_empty()),
            environment: Some(envelope.environment.clone()).filter(|s| !s.is_empty()),
            result: self.result.name().to_string(),
            waived: self.violations.iter().any(|v| v.waiver.is_some()),
            guardrails: self
                .violations
                .iter()
                .map(|v| v.guardrail.clone())
                .collect(),
        }
    }

    /// Violations that count against the change (not waived, not audit-only).
    pub fn effective(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.effect != Effect::Audit)
    }
}

/// The decision-log record of a decision: the envelope is kept (without source
/// locations) so the decision can be replayed.
pub fn to_record(decision: &Decision, envelope: &Envelope) -> DecisionRecord {
    let logged = Logged::new(decision, envelope);
    DecisionRecord {
        id: decision.id.clone(),
        time: decision.time,
        service: logged.service.map(str::to_string),
        environment: logged.environment.map(str::to_string),
        result: decision.result.name().to_string(),
        input_digest: decision.input_digest.clone(),
        policy_revision: decision.policy_revision.clone(),
        input: serde_json::to_value(&logged.input).unwrap_or_default(),
        decision: serde_json::to_value(decision).unwrap_or_default(),
    }
}

/// The decision-log record of a decision as JSON: what `to_record` gives,
/// serialised, written without building it.
pub fn record_json(decision: &Decision, envelope: &Envelope) -> String {
    serde_json::to_string(&Logged::new(decision, envelope)).unwrap_or_default()
}

/// An envelope that serialises without its attachments' locations.
struct Unlocated<'a>(&'a Envelope);

impl Serialize for Unlocated<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let _without = crate::envelope::WithoutLocations::new();
        self.0.serialize(s)
    }
}

/// A [`DecisionRecord`] borrowing the decision and the envelope; serialises
/// to the same JSON.
#[derive(Serialize)]
struct Logged<'a> {
    id: &'a str,
    time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    result: &'static str,
    input_digest: &'a str,
    policy_revision: &'a str,
    input: Unlocated<'a>,
    decision: &'a Decision,
}

impl<'a> Logged<'a> {
    fn new(decision: &'a Decision, envelope: &'a Envelope) -> Self {
        // The envelope is kept without the attachments' location index
        // (written out without it, not copied without it).
        let input = Unlocated(envelope);
        Logged {
            id: &decision.id,
            time: decision.time,
            service: Some(envelope.service.as_str()).filter(|s| !s.is_empty()),
            environment: Some(envelope.environment.as_str()).filter(|s| !s.is_empty()),
            result: decision.result.name(),
            input_digest: &decision.input_digest,
            policy_revision: &decision.policy_revision,
            input,
            decision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The record the server writes straight from the decision is the one
    /// `to_record` builds, and so is its summary.
    #[test]
    fn record_json_and_summary_match_the_record() {
        let mut env = Envelope {
            service: "shop".into(),
            environment: "prod".into(),
            labels: vec!["hotfix".into()],
            ..Envelope::default()
        };
        env.attachments.terraform_plans.push(
            crate::Attachment::from_json_bytes("p.json", br#"{"a": [1, {"b": "\u00e9"}]}"#)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        // A YAML file keeps its locations by pointer, JSON compact: neither is logged.
        env.attachments.manifests.push(
            crate::Attachment::from_manifest_bytes("d.yaml", b"kind: Pod\nspec: {}\n")
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(!env.attachments.manifests[0].locations.is_empty());
        let violation = |guardrail: &str, waiver: Option<AppliedWaiver>| Violation {
            guardrail: guardrail.into(),
            kind: "rego".into(),
            rule: "r".into(),
            objective: None,
            mode: Mode::Enforce,
            effect: Effect::Deny,
            severity: "high".into(),
            message: "m \"quoted\"".into(),
            location: None,
            related_locations: Vec::new(),
            remediation: None,
            waiver,
        };
        let waiver = AppliedWaiver {
            owner: "alice".into(),
            reason: "r".into(),
            ticket: None,
            expires: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
        };
        let mut decision = Decision {
            id: "dec_1".into(),
            time: Utc::now(),
            result: Verdict::Deny,
            violations: vec![violation("iam", Some(waiver)), violation("k8s", None)],
            expired_waivers: Vec::new(),
            evaluated: vec!["iam".into(), "k8s".into()],
            errors: Vec::new(),
            input_digest: "sha256:x".into(),
            policy_revision: "rev".into(),
            elapsed_us: 3,
            context: ReplayContext::new(&json!({"risk": 0.5})),
        };
        for _ in 0..2 {
            let record = to_record(&decision, &env);
            let written: serde_json::Value = serde_json::from_str(&record_json(&decision, &env))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(written, serde_json::to_value(&record).unwrap_or_default());
            assert!(
                written["input"]["attachments"]["terraform_plans"][0]
                    .get("locations")
                    .is_none()
            );
            assert!(
                written["input"]["attachments"]["manifests"][0]
                    .get("locations")
                    .is_none()
            );
            // Outside the log, the envelope is written with its locations.
            let sent = serde_json::to_value(&env).unwrap_or_default();
            assert!(sent["attachments"]["terraform_plans"][0]["locations"]["/a/1/b"].is_array());
            assert_eq!(decision.summary(&env), record.summary());
            decision.violations[0].waiver = None;
            env.service.clear();
        }
    }
}

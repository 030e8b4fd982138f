//! What the gate answers: a verdict, the violations behind it with their
//! locations, remediation and waivers, and how to log it.

use bearing_events::DecisionRecord;
use bearing_intent::Mode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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
    /// The data the decision read besides the envelope (the service's plan,
    /// outcomes, risk, time), kept so it can be replayed.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub context: serde_json::Value,
}

impl Decision {
    /// Violations that count against the change (not waived, not audit-only).
    pub fn effective(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.effect != Effect::Audit)
    }
}

/// The decision-log record of a decision: the envelope is kept (without source
/// locations) so the decision can be replayed.
pub fn to_record(decision: &Decision, envelope: &Envelope) -> DecisionRecord {
    let mut input = envelope.clone();
    for a in input
        .attachments
        .terraform_plans
        .iter_mut()
        .chain(input.attachments.manifests.iter_mut())
        .chain(input.attachments.scans.iter_mut())
        .chain(input.attachments.cost.iter_mut())
    {
        a.locations.clear();
    }
    DecisionRecord {
        id: decision.id.clone(),
        time: decision.time,
        service: Some(envelope.service.clone()).filter(|s| !s.is_empty()),
        environment: Some(envelope.environment.clone()).filter(|s| !s.is_empty()),
        result: decision.result.name().to_string(),
        input_digest: decision.input_digest.clone(),
        policy_revision: decision.policy_revision.clone(),
        input: serde_json::to_value(&input).unwrap_or_default(),
        decision: serde_json::to_value(decision).unwrap_or_default(),
    }
}

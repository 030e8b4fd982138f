//! Records Bearing itself produces and keeps beside the events: guardrail
//! decisions, delivery plans and actions. Plain data shared by the store,
//! the guardrails, adapt and the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A guardrail decision as kept in the decision log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub id: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `allow`, `warn`, `deny` or `unknown`.
    pub result: String,
    /// SHA-256 of the canonical input envelope.
    pub input_digest: String,
    /// Digest of the compiled policy bundle that decided.
    pub policy_revision: String,
    /// The input envelope (secrets removed), kept so the decision can be replayed.
    pub input: serde_json::Value,
    /// The full decision: violations, explanations, waivers.
    pub decision: serde_json::Value,
}

/// What the metrics need of a decision; the store keeps it beside the full
/// record so it can be read without parsing the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionSummary {
    pub id: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub result: String,
    /// A waiver turned at least one violation into a pass.
    #[serde(default)]
    pub waived: bool,
    /// Guardrails with a violation (any effect), in the decision's order.
    #[serde(default)]
    pub guardrails: Vec<String>,
}

impl DecisionRecord {
    pub fn summary(&self) -> DecisionSummary {
        let violations = self.decision.get("violations").and_then(|v| v.as_array());
        let waived = violations.is_some_and(|vs| {
            vs.iter()
                .any(|v| v.get("waiver").is_some_and(|w| !w.is_null()))
        }) || self
            .decision
            .get("waivers")
            .and_then(|w| w.as_array())
            .is_some_and(|w| !w.is_empty());
        let guardrails = violations
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.get("guardrail").and_then(|g| g.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        DecisionSummary {
            id: self.id.clone(),
            time: self.time,
            service: self.service.clone(),
            environment: self.environment.clone(),
            result: self.result.clone(),
            waived,
            guardrails,
        }
    }
}

/// What Bearing currently wants for a service's deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPlan {
    pub service: String,
    /// `direct`, `canary` or `blue-green`.
    pub strategy: String,
    pub freeze: bool,
    #[serde(default)]
    pub extra_gates: Vec<String>,
    /// Why the plan is what it is (rule ids, action ids).
    #[serde(default)]
    pub reasons: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// Lifecycle of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Proposed,
    Applied,
    Dismissed,
    Reverted,
}

/// A recommendation or plan change, its evidence and its measured effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The adaptation rule or recommender that produced it.
    pub origin: String,
    pub summary: String,
    pub status: ActionStatus,
    /// The metric this action is meant to move, and the value when it was taken.
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// When to measure the effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_at: Option<DateTime<Utc>>,
    /// Measured effect once evaluated: the metric's value after the window and the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<serde_json::Value>,
    /// Evidence: metric values, event ids.
    pub evidence: serde_json::Value,
    /// The plan change applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<serde_json::Value>,
}

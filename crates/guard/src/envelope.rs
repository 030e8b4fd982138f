//! The change envelope: what a pipeline submits for a decision (service,
//! environment, version, labels, …) and its attachments read from files:
//! Terraform plan JSON, Kubernetes manifests, scan reports and Infracost JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::GuardError;
use crate::locate::{LocationIndex, decode_text, parse_json_located};
use crate::yaml::parse_yaml_located;

/// One change submitted to the gate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Envelope {
    pub service: String,
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub labels: Vec<String>,
    /// Lines changed, if the pipeline knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_size: Option<u64>,
    /// How the change will be deployed: `direct`, `canary` or `blue-green`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Results of pipeline checks by name, e.g. `tests: passed`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, String>,
    pub attachments: Attachments,
}

/// Files attached to a change, parsed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachments {
    /// `terraform show -json` output.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terraform_plans: Vec<Attachment>,
    /// Kubernetes manifests; `content` is the array of YAML documents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Attachment>,
    /// SARIF, Trivy or Grype JSON reports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scans: Vec<Attachment>,
    /// Infracost JSON (`breakdown` or `diff`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cost: Vec<Attachment>,
}

impl Attachments {
    pub fn is_empty(&self) -> bool {
        self.terraform_plans.is_empty()
            && self.manifests.is_empty()
            && self.scans.is_empty()
            && self.cost.is_empty()
    }

    /// Every attachment with its kind name, in a stable order.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Attachment)> {
        self.terraform_plans
            .iter()
            .map(|a| ("terraform_plans", a))
            .chain(self.manifests.iter().map(|a| ("manifests", a)))
            .chain(self.scans.iter().map(|a| ("scans", a)))
            .chain(self.cost.iter().map(|a| ("cost", a)))
    }

    pub fn get(&self, kind: &str, i: usize) -> Option<&Attachment> {
        match kind {
            "terraform_plans" => self.terraform_plans.get(i),
            "manifests" => self.manifests.get(i),
            "scans" => self.scans.get(i),
            "cost" => self.cost.get(i),
            _ => None,
        }
    }
}

/// One attached file: its name, parsed content, and where each value is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub file: String,
    pub content: Value,
    /// JSON pointer → `[line, column]`; empty when the content did not come from a file.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub locations: LocationIndex,
}

impl Attachment {
    /// An attachment built in memory (no locations).
    pub fn new(file: impl Into<String>, content: Value) -> Attachment {
        Attachment {
            file: file.into(),
            content,
            locations: LocationIndex::new(),
        }
    }

    /// Parses JSON text (any encoding, wrapper lines allowed).
    pub fn from_json_bytes(file: &str, bytes: &[u8]) -> Result<Attachment, GuardError> {
        let text = decode_text(bytes).map_err(|message| GuardError::Attachment {
            file: file.to_string(),
            message,
        })?;
        let (content, locations) =
            parse_json_located(&text).map_err(|message| GuardError::Attachment {
                file: file.to_string(),
                message,
            })?;
        Ok(Attachment {
            file: file.to_string(),
            content,
            locations,
        })
    }

    /// Parses multi-document YAML (or JSON) manifests; `content` is the array of documents.
    pub fn from_manifest_bytes(file: &str, bytes: &[u8]) -> Result<Attachment, GuardError> {
        let text = decode_text(bytes).map_err(|message| GuardError::Attachment {
            file: file.to_string(),
            message,
        })?;
        let (docs, locations) =
            parse_yaml_located(&text).map_err(|message| GuardError::Attachment {
                file: file.to_string(),
                message,
            })?;
        // A `kind: List` expands to its items, as kubectl does.
        let docs = docs
            .into_iter()
            .flat_map(
                |d| match (d.get("kind").and_then(Value::as_str), d.get("items")) {
                    (Some("List"), Some(Value::Array(items))) => items.clone(),
                    _ => vec![d],
                },
            )
            .collect();
        Ok(Attachment {
            file: file.to_string(),
            content: Value::Array(docs),
            locations,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, GuardError> {
    std::fs::read(path).map_err(|source| GuardError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a Terraform plan JSON file.
pub fn read_plan(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_json_bytes(&path.display().to_string(), &read(path)?)?;
    let looks_like_plan = a.content.get("format_version").is_some()
        || a.content.get("resource_changes").is_some()
        || a.content.get("planned_values").is_some();
    if !looks_like_plan {
        return Err(GuardError::Attachment {
            file: a.file,
            message: "expected `terraform show -json` output (with `format_version` and `resource_changes`)".into(),
        });
    }
    Ok(a)
}

/// Reads Kubernetes manifests (YAML, multi-document, or JSON).
pub fn read_manifests(path: &Path) -> Result<Attachment, GuardError> {
    Attachment::from_manifest_bytes(&path.display().to_string(), &read(path)?)
}

/// Reads a SARIF, Trivy or Grype JSON report.
pub fn read_scan(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_json_bytes(&path.display().to_string(), &read(path)?)?;
    if crate::normalize::scan_format(&a.content).is_none() {
        return Err(GuardError::Attachment {
            file: a.file,
            message: "expected a SARIF, Trivy or Grype JSON report".into(),
        });
    }
    Ok(a)
}

/// Reads an Infracost JSON report.
pub fn read_cost(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_json_bytes(&path.display().to_string(), &read(path)?)?;
    if a.content.get("projects").is_none() {
        return Err(GuardError::Attachment {
            file: a.file,
            message:
                "expected Infracost JSON (`infracost breakdown --format json`) with `projects`"
                    .into(),
        });
    }
    Ok(a)
}

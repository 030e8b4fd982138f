//! The change envelope: what a pipeline submits for a decision (service,
//! environment, version, labels, …) and its attachments read from files:
//! Terraform plan JSON, Kubernetes manifests, scan reports and Infracost JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::GuardError;
use crate::locate::{
    Located, LocationIndex, PreOrder, decode_text_owned, lookup, parse_json_compact,
};
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
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub file: String,
    pub content: Value,
    /// JSON pointer → `[line, column]`; empty when the content did not come
    /// from a file, or when its locations are kept compact (JSON files).
    pub locations: LocationIndex,
    /// The locations of a JSON file's values, compact (see [`PreOrder`]);
    /// written out as `locations`.
    #[serde(skip)]
    pub compact: Option<Arc<PreOrder>>,
}

thread_local! {
    static WITHOUT_LOCATIONS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, attachments serialise without their locations on this
/// thread (the decision log keeps the content only, without copying it).
pub(crate) struct WithoutLocations(bool);

impl WithoutLocations {
    pub(crate) fn new() -> WithoutLocations {
        WithoutLocations(WITHOUT_LOCATIONS.with(|w| w.replace(true)))
    }
}

impl Drop for WithoutLocations {
    fn drop(&mut self) {
        WITHOUT_LOCATIONS.with(|w| w.set(self.0));
    }
}

impl Serialize for Attachment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let expanded;
        let empty = LocationIndex::new();
        let locations = match &self.compact {
            _ if WITHOUT_LOCATIONS.with(std::cell::Cell::get) => &empty,
            Some(c) if self.locations.is_empty() => {
                expanded = c.to_index(&self.content);
                &expanded
            }
            _ => &self.locations,
        };
        let mut st = s.serialize_struct("Attachment", 3)?;
        st.serialize_field("file", &self.file)?;
        st.serialize_field("content", &self.content)?;
        if locations.is_empty() {
            st.skip_field("locations")?;
        } else {
            st.serialize_field("locations", locations)?;
        }
        st.end()
    }
}

impl Attachment {
    /// An attachment built in memory (no locations).
    pub fn new(file: impl Into<String>, content: Value) -> Attachment {
        Attachment {
            file: file.into(),
            content,
            locations: LocationIndex::new(),
            compact: None,
        }
    }

    /// Where the value at `pointer` (or the nearest enclosing one) is in the file.
    pub fn location_of(&self, pointer: &str) -> Option<[u32; 2]> {
        match &self.compact {
            Some(c) => c.lookup(&self.content, pointer),
            None => lookup(&self.locations, pointer),
        }
    }

    /// Whether the attachment knows where its values are.
    pub fn has_locations(&self) -> bool {
        self.compact.is_some() || !self.locations.is_empty()
    }

    /// Forgets where the values are (the decision log keeps the content only).
    pub fn clear_locations(&mut self) {
        self.compact = None;
        self.locations.clear();
    }

    /// Parses JSON text (any encoding, wrapper lines allowed).
    pub fn from_json_bytes(file: &str, bytes: &[u8]) -> Result<Attachment, GuardError> {
        Attachment::from_json_vec(file, bytes.to_vec())
    }

    /// [`Attachment::from_json_bytes`] of bytes read from a file (UTF-8 text is not copied).
    pub fn from_json_vec(file: &str, bytes: Vec<u8>) -> Result<Attachment, GuardError> {
        let text = decode_text_owned(bytes).map_err(|message| GuardError::Attachment {
            file: file.to_string(),
            message,
        })?;
        let (content, located) =
            parse_json_compact(&text).map_err(|message| GuardError::Attachment {
                file: file.to_string(),
                message,
            })?;
        drop(text);
        let (locations, compact) = match located {
            Located::PreOrder(p) => (LocationIndex::new(), Some(Arc::new(p))),
            Located::Map(m) => (m, None),
        };
        Ok(Attachment {
            file: file.to_string(),
            content,
            locations,
            compact,
        })
    }

    /// Parses multi-document YAML (or JSON) manifests; `content` is the array of documents.
    pub fn from_manifest_bytes(file: &str, bytes: &[u8]) -> Result<Attachment, GuardError> {
        Attachment::from_manifest_vec(file, bytes.to_vec())
    }

    /// [`Attachment::from_manifest_bytes`] of bytes read from a file.
    pub fn from_manifest_vec(file: &str, bytes: Vec<u8>) -> Result<Attachment, GuardError> {
        let text = decode_text_owned(bytes).map_err(|message| GuardError::Attachment {
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
            compact: None,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, GuardError> {
    std::fs::read(path).map_err(|source| GuardError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// What another kind of attachment is, for a file given in the wrong place.
fn looks_like(c: &Value) -> Option<&'static str> {
    if c.get("resource_changes").is_some() || c.get("planned_values").is_some() {
        Some("a Terraform plan (pass it with `--plan`)")
    } else if is_scan_report(c) {
        Some("a scan report (pass it with `--scan`)")
    } else if c.get("projects").is_some() && c.get("totalMonthlyCost").is_some() {
        Some("an Infracost report (pass it with `--cost`)")
    } else {
        None
    }
}

/// A SARIF, Trivy or Grype report by the fields only such reports have
/// together (a CloudFormation template has `Resources`, a config may have `runs`).
fn is_scan_report(c: &Value) -> bool {
    let sarif = c.get("runs").is_some_and(Value::is_array)
        && (c
            .get("version")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("2."))
            || c.get("$schema")
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("sarif")));
    let grype = c
        .get("matches")
        .and_then(Value::as_array)
        .and_then(|m| m.first())
        .is_some_and(|m| m.get("vulnerability").is_some() && m.get("artifact").is_some());
    let trivy = c.get("SchemaVersion").is_some_and(Value::is_number)
        && (c.get("Results").is_some() || c.get("ArtifactName").is_some());
    sarif || grype || trivy
}

/// Why `content` is not a Terraform plan the gate can read, if it is not.
/// A plan has `resource_changes` (left out when nothing changes) and always
/// `planned_values`; state (`terraform show -json` without a plan file) has
/// `values` instead.
pub fn plan_problem(c: &Value) -> Option<String> {
    const EXPECTED: &str = "expected `terraform show -json tfplan` output";
    let Some(o) = c.as_object() else {
        return Some(format!("{EXPECTED}, not a JSON {}", json_type(c)));
    };
    if let Some(rc) = o.get("resource_changes")
        && !rc.is_array()
    {
        return Some(format!(
            "`resource_changes` is a {}, not a list",
            json_type(rc)
        ));
    }
    if o.get("errored") == Some(&Value::Bool(true)) {
        return Some(
            "the plan errored (`errored: true`), so its changes are incomplete; fix the plan and run it again".into(),
        );
    }
    if o.contains_key("resource_changes") || o.get("planned_values").is_some_and(Value::is_object) {
        return None;
    }
    if o.get("values").is_some_and(Value::is_object) {
        return Some(format!(
            "this is Terraform state, not a plan: it has `values` but no `resource_changes` or `planned_values`; {EXPECTED} of a saved plan (`terraform plan -out=tfplan`)"
        ));
    }
    if let Some(other) = looks_like(c) {
        return Some(format!("{EXPECTED}; this is {other}"));
    }
    Some(format!(
        "{EXPECTED}: it has no `resource_changes` or `planned_values`, so there is nothing to check"
    ))
}

/// Why `docs` (a manifest attachment's documents) are not manifests, if a
/// document is recognisably another kind of attachment (a Terraform plan, a
/// scan report, an Infracost report) that the gate would otherwise read as
/// YAML and pass. Other YAML without a `kind` is left alone: custom
/// Conftest-style policies check any configuration file given here.
pub fn manifests_problem(docs: &Value) -> Option<String> {
    let Some(docs) = docs.as_array() else {
        return Some(format!(
            "expected a list of YAML documents, not a JSON {}",
            json_type(docs)
        ));
    };
    docs.iter().enumerate().find_map(|(i, d)| {
        if d.get("kind").is_some_and(Value::is_string) {
            return None;
        }
        let other = looks_like(d)?;
        Some(format!(
            "document {} is not a Kubernetes manifest: this is {other}",
            i + 1
        ))
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

impl Attachments {
    /// Attachments the gate cannot read as their kind, one message each
    /// (naming the file): a decision with any is `unknown`, never a quiet allow.
    pub fn problems(&self) -> Vec<String> {
        let plans = self
            .terraform_plans
            .iter()
            .filter_map(|a| plan_problem(&a.content).map(|m| format!("`{}`: {m}", a.file)));
        let manifests = self
            .manifests
            .iter()
            .filter_map(|a| manifests_problem(&a.content).map(|m| format!("`{}`: {m}", a.file)));
        plans.chain(manifests).collect()
    }
}

/// Reads a Terraform plan JSON file.
pub fn read_plan(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_json_vec(&path.display().to_string(), read(path)?)?;
    if let Some(message) = plan_problem(&a.content) {
        return Err(GuardError::Attachment {
            file: a.file,
            message,
        });
    }
    Ok(a)
}

/// Reads Kubernetes manifests (YAML, multi-document, or JSON).
pub fn read_manifests(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_manifest_vec(&path.display().to_string(), read(path)?)?;
    if let Some(message) = manifests_problem(&a.content) {
        return Err(GuardError::Attachment {
            file: a.file,
            message,
        });
    }
    Ok(a)
}

/// Reads a SARIF, Trivy or Grype JSON report.
pub fn read_scan(path: &Path) -> Result<Attachment, GuardError> {
    let a = Attachment::from_json_vec(&path.display().to_string(), read(path)?)?;
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
    let a = Attachment::from_json_vec(&path.display().to_string(), read(path)?)?;
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

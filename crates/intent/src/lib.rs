//! Bearing's intent: the model of what an organisation wants from delivery,
//! typed units, the metric catalog, loading and validation of `bearing.yaml`.

pub mod catalog;
mod check;
mod de;
pub mod expr;
pub mod load;
pub mod model;
mod suggest;
mod target;
pub mod units;
mod yaml;

pub use load::{
    Diagnostic, LoadError, LoadOptions, Loaded, Severity, load, load_sources, load_str, load_with,
};
pub use model::*;
pub use target::TargetError;
pub use units::{Comparator, Duration, Money, Percent, Period, Quantity, Rate, Target, Unit};

/// The commented starter intent `bearing init` writes: a small organisation
/// with teams, services, objectives in every layer, guardrails, a waiver,
/// workflows and adaptation rules. It validates cleanly.
pub const STARTER: &str = include_str!("../templates/starter.yaml");

/// The JSON Schema of the intent format, generated from the model types.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Intent)).unwrap_or_default()
}

//! Infracost adapter (in progress).

use serde::{Deserialize, Serialize};

use super::{ParseContext, ParseError, Parsed};

/// The change-cost summary of an Infracost breakdown or diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfracostSummary {
    pub currency: String,
    /// Monthly cost before the change (`None` when Infracost did not price it).
    pub past_monthly: Option<f64>,
    /// Monthly cost after the change.
    pub total_monthly: Option<f64>,
    /// `total - past`.
    pub diff_monthly: Option<f64>,
    pub projects: Vec<InfracostProject>,
    /// True when some cost could not be determined (a project failed, or totals are missing).
    pub unknown: bool,
}

/// One project of an Infracost run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfracostProject {
    pub name: String,
    pub past_monthly: Option<f64>,
    pub total_monthly: Option<f64>,
    pub diff_monthly: Option<f64>,
    /// Errors Infracost reported for the project.
    pub errors: Vec<String>,
}

pub fn infracost_summary(_bytes: &[u8]) -> Result<InfracostSummary, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}

pub(super) fn parse(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}

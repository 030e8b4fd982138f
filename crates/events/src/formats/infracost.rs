//! Infracost breakdown/diff JSON: the cost of a change, not a bill.
//!
//! [`infracost_summary`] gives the guardrails what they need: the monthly cost
//! before and after the change and the difference, per project, and whether any
//! of it is unknown (a project failed, or totals are missing).
//!
//! Ingested, an Infracost file becomes metric points stamped with
//! `timeGenerated`: `infracost.total_monthly_cost`, `infracost.past_monthly_cost`
//! and `infracost.diff_monthly_cost` for each project (dimensions `project`,
//! `currency`), so the cost of changes can be trended. Projects Infracost could
//! not price are skipped with its error message.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::*;

use super::json::{Get, parse_value};
use super::{ParseContext, ParseError, Parsed, RecordRef};

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
    /// `timeGenerated`, when present.
    pub generated_at: Option<chrono::DateTime<chrono::Utc>>,
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

/// Infracost writes costs as decimal strings (`"1303.28"`), sometimes numbers, or `null`.
fn money(v: &Value, path: &str) -> Result<Option<f64>, ParseError> {
    match v.path(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| {
                ParseError::new(format!("expected an amount, found `{n}`")).with_field(path)
            }),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(ParseError::new(format!(
                "expected a decimal amount, found `{}`",
                super::truncate(s, 40)
            ))
            .with_field(path)),
        },
        Some(other) => Err(ParseError::new(format!(
            "expected a decimal amount, found {}",
            super::json::kind_of(other)
        ))
        .with_field(path)),
    }
}

/// Reads an Infracost JSON output (`infracost breakdown|diff --format json`).
pub fn infracost_summary(bytes: &[u8]) -> Result<InfracostSummary, ParseError> {
    let v = parse_value(bytes)?;
    summary(&v)
}

fn summary(v: &Value) -> Result<InfracostSummary, ParseError> {
    if !v.is_object() || v.get("projects").is_none() {
        return Err(ParseError::new(
            "not an Infracost output: expected an object with `projects` (run `infracost breakdown --format json`)",
        ));
    }
    let projects_v = match v.get("projects") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected an array, found {}",
                super::json::kind_of(other)
            ))
            .with_field("projects"));
        }
        None => {
            return Err(
                ParseError::new("missing; an Infracost output lists `projects`")
                    .with_field("projects"),
            );
        }
    };
    let mut projects = Vec::new();
    for (i, p) in projects_v.iter().enumerate() {
        let at = |e: ParseError| e.with_field(format!("projects[{i}]"));
        let total = money(p, "breakdown.totalMonthlyCost").map_err(at)?;
        let past = money(p, "pastBreakdown.totalMonthlyCost").map_err(at)?;
        let diff = money(p, "diff.totalMonthlyCost")
            .map_err(at)?
            .or_else(|| Some(total? - past.unwrap_or(0.0)));
        let errors = p
            .arr_at("metadata.errors")
            .iter()
            .map(|e| e.str_at("message").unwrap_or("unknown error").to_owned())
            .collect();
        projects.push(InfracostProject {
            name: p
                .str_at("name")
                .or_else(|| p.str_at("metadata.path"))
                .unwrap_or("project")
                .to_owned(),
            past_monthly: past,
            total_monthly: total,
            diff_monthly: diff,
            errors,
        });
    }
    let total = money(v, "totalMonthlyCost")?;
    let past = money(v, "pastTotalMonthlyCost")?;
    let diff = money(v, "diffTotalMonthlyCost")?.or_else(|| Some(total? - past.unwrap_or(0.0)));
    let unknown = total.is_none()
        || projects
            .iter()
            .any(|p| !p.errors.is_empty() || p.total_monthly.is_none());
    let generated_at = match v.str_at("timeGenerated") {
        None => None,
        Some(s) => Some(crate::timestamp::parse_lenient(s).ok_or_else(|| {
            ParseError::new(crate::timestamp::expected_timestamp(s)).with_field("timeGenerated")
        })?),
    };
    Ok(InfracostSummary {
        currency: v.str_at("currency").unwrap_or("USD").to_owned(),
        past_monthly: past,
        total_monthly: total,
        diff_monthly: diff,
        projects,
        unknown,
        generated_at,
    })
}

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let v = parse_value(bytes)?;
    let s = summary(&v)?;
    let time = s.generated_at.unwrap_or(ctx.now);
    let run = v
        .str_at("runId")
        .map(str::to_owned)
        .unwrap_or_else(|| super::digest(&[bytes])[..16].to_owned());
    let mut parsed = Parsed::default();
    for (i, p) in s.projects.iter().enumerate() {
        if !p.errors.is_empty() {
            parsed.skip(
                Some(RecordRef::Record(i + 1)),
                format!(
                    "project `{}` was not priced: {}",
                    p.name,
                    p.errors.join("; ")
                ),
            );
            continue;
        }
        for (metric, value) in [
            ("infracost.total_monthly_cost", p.total_monthly),
            ("infracost.past_monthly_cost", p.past_monthly),
            ("infracost.diff_monthly_cost", p.diff_monthly),
        ] {
            let Some(value) = value else { continue };
            let mut dimensions = std::collections::BTreeMap::new();
            dimensions.insert("project".to_owned(), p.name.clone());
            dimensions.insert("currency".to_owned(), s.currency.clone());
            let mut e = Event::new(
                format!("infracost:{run}:{i}:{metric}"),
                "infracost",
                time,
                Payload::MetricPoint(MetricPoint {
                    name: metric.to_owned(),
                    value,
                    dimensions,
                }),
            );
            e.service.clone_from(&ctx.service);
            parsed.events.push(e);
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_unknowns() {
        let body = r#"{"version":"0.2","currency":"USD","totalMonthlyCost":"742.64","pastTotalMonthlyCost":"1303.28","diffTotalMonthlyCost":"-560.64",
            "timeGenerated":"2022-06-20T13:27:44.294562-04:00","projects":[
            {"name":"a","breakdown":{"totalMonthlyCost":"742.64"},"pastBreakdown":{"totalMonthlyCost":"1303.28"},"diff":{"totalMonthlyCost":"-560.64"},"metadata":{}},
            {"name":"b","breakdown":{"totalMonthlyCost":"0"},"metadata":{"errors":[{"code":102,"message":"No valid terraform files"}]}}]}"#;
        let s = infracost_summary(body.as_bytes()).unwrap();
        assert_eq!(s.diff_monthly, Some(-560.64));
        assert!(s.unknown);
        let p = parse(body.as_bytes(), &ParseContext::new(chrono::Utc::now())).unwrap();
        assert_eq!(p.events.len(), 3);
        assert!(p.skipped[0].reason.contains("No valid terraform files"));
        let e = infracost_summary(br#"{"projects":[{"breakdown":{"totalMonthlyCost":"lots"}}]}"#)
            .unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("projects[0].breakdown.totalMonthlyCost")
        );
    }
}

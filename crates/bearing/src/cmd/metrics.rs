//! `bearing metrics`: lists the metric catalog.

use std::process::ExitCode;

use bearing_intent::catalog::{self, MetricDef, ScopeKind};

use super::common::{Global, Output};

/// List every metric a key result or adaptation rule may name.
///
/// For each: name, unit, the scopes it can be cut by, the filters it accepts
/// and a one-line definition. `business.<name>` stands for any ingested
/// business metric series.
#[derive(clap::Args)]
#[command(
    after_help = "For each metric: name, unit, the scopes it can be cut by (org, team, service, environment), the filters it accepts and a one-line definition. `business.<name>` stands for any ingested business metric series. Full definitions: docs/metrics.md."
)]
pub struct Args {
    /// `json` prints an array of catalog entries.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: Args, _g: &Global) -> anyhow::Result<ExitCode> {
    let all: Vec<&MetricDef> = catalog::METRICS
        .iter()
        .chain(std::iter::once(&catalog::BUSINESS))
        .collect();
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        Output::Text => {
            let scopes_of = |m: &MetricDef| {
                let v: Vec<&str> = m.scopes.iter().map(|s| scope(*s)).collect();
                v.join(",")
            };
            let width = all.iter().map(|m| m.name.len()).max().unwrap_or(0);
            let sw = all.iter().map(|m| scopes_of(m).len()).max().unwrap_or(0);
            println!(
                "{:width$}  {:10}  {:sw$}  DEFINITION",
                "METRIC", "UNIT", "SCOPES"
            );
            for m in all {
                let mut def = m.definition.to_string();
                if !m.filters.is_empty() {
                    def.push_str(&format!(" [filters: {}]", m.filters.join(", ")));
                }
                println!(
                    "{:width$}  {:10}  {:sw$}  {def}",
                    m.name,
                    m.unit.name(),
                    scopes_of(m)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn scope(s: ScopeKind) -> &'static str {
    match s {
        ScopeKind::Org => "org",
        ScopeKind::Team => "team",
        ScopeKind::Service => "service",
        ScopeKind::Environment => "environment",
    }
}

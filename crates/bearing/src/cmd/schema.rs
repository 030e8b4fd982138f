//! `bearing schema`: prints the JSON Schema of the intent format.

use std::process::ExitCode;

use super::common::Global;

/// Print the JSON Schema of `bearing.yaml`, generated from Bearing's types.
///
/// Point an editor's YAML support at it for completion and checks, e.g. with
/// `# yaml-language-server: $schema=bearing.schema.json` at the top of the file
/// after `bearing schema > bearing.schema.json`. The schema checks structure;
/// `bearing validate` also checks references, units and metrics.
#[derive(clap::Args)]
#[command(
    after_help = "Save it (`bearing schema > bearing.schema.json`) and point your editor's YAML support at it, e.g. with `# yaml-language-server: $schema=bearing.schema.json` at the top of bearing.yaml. The schema checks structure; `bearing validate` also checks references, units and metrics."
)]
pub struct Args {}

pub fn run(_args: Args, _g: &Global) -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&bearing_intent::schema())?
    );
    Ok(ExitCode::SUCCESS)
}

//! `bearing validate` (not built yet).

use std::process::ExitCode;

use super::common::Global;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _g: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`bearing validate` is not built yet")
}

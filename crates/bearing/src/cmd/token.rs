//! `bearing token` (not built yet).

use std::process::ExitCode;

use super::common::Global;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Not built yet.
    Todo,
}

pub fn run(_cmd: Command, _g: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`bearing token` is not built yet")
}

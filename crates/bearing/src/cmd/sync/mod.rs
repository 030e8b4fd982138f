//! `bearing sync <source>`: reads records from an outside system into the
//! event store, resuming where the last sync stopped. One file per source.

use std::process::ExitCode;

use super::common::Global;

pub mod prometheus;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Read the SLIs of every SLO with a `source.prometheus` into the store.
    Prometheus(prometheus::Args),
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Prometheus(a) => prometheus::run(a, g),
    }
}

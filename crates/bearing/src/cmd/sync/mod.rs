//! `bearing sync`: read delivery history and SLIs from outside sources into
//! the store, each source in its own module, resuming where the last sync
//! stopped.

use std::process::ExitCode;

use super::common::Global;

pub mod github;
mod github_api;
pub mod prometheus;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Backfill deployments, workflow runs, merged pull requests, pushes and
    /// incident issues from GitHub's REST API.
    ///
    /// Reads deployments and their statuses, workflow runs and their jobs,
    /// merged pull requests, pushes to the default branch and issues
    /// labelled `incident`, and maps them exactly as webhook deliveries are
    /// mapped: a record received as a webhook and read again by a sync is
    /// one event.
    ///
    /// Each resource keeps a cursor in the store, so the next sync reads only
    /// what changed since; an unchanged listing costs one conditional request
    /// (answered 304). Rate limits are waited out up to `--max-wait`.
    Github(github::Args),
    /// Read the SLIs of every SLO with a `source.prometheus` into the store.
    Prometheus(prometheus::Args),
}

pub fn run(command: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match command {
        Command::Github(a) => github::run(a, g),
        Command::Prometheus(a) => prometheus::run(a, g),
    }
}

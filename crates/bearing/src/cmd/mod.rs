//! One module per subcommand; [`run`] dispatches.

use std::process::ExitCode;

use crate::{Cli, Command};

pub mod canary;
pub mod check;
pub mod common;
pub mod completions;
pub mod decision;
pub mod demo;
pub mod events;
pub mod explain;
pub mod ingest;
pub mod init;
pub mod manifests;
pub mod metrics;
pub mod notifications;
pub mod outcomes;
pub mod pipelines;
pub mod policy;
pub mod reconcile;
pub mod report;
pub mod rightsize;
pub mod risk;
pub mod schema;
pub mod security;
pub mod serve;
pub mod sync;
pub mod token;
pub mod validate;
pub mod workflow;

/// Exit code for invalid input or a failed check. (`check` maps its verdicts
/// itself: `bearing_guard::Verdict::exit_code`, 3 for unknown.)
pub const EXIT_INVALID: u8 = 1;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = common::Global {
        intent: cli.intent,
        database: cli.database,
    };
    match cli.command {
        Command::Init(a) => init::run(a, &g),
        Command::Validate(a) => validate::run(a, &g),
        Command::Schema(a) => schema::run(a, &g),
        Command::Metrics(a) => metrics::run(a, &g),
        Command::Ingest(a) => ingest::run(a, &g),
        Command::Events(c) => events::run(c, &g),
        Command::Report(a) => report::run(a, &g),
        Command::Explain(a) => explain::run(a, &g),
        Command::Check(a) => check::run(a, &g),
        Command::Pipelines(c) => pipelines::run(c, &g),
        Command::Policy(c) => policy::run(c, &g),
        Command::Decision(c) => decision::run(c, &g),
        Command::Security(c) => security::run(c, &g),
        Command::Reconcile(a) => reconcile::run(a, &g),
        Command::Rightsize(a) => rightsize::run(a, &g),
        Command::Canary(c) => canary::run(c, &g),
        Command::Risk(c) => risk::run(c, &g),
        Command::Workflow(c) => workflow::run(c, &g),
        Command::Serve(a) => serve::run(a, &g),
        Command::Sync(c) => sync::run(c, &g),
        Command::Demo(a) => demo::run(a, &g),
        Command::Token(c) => token::run(c, &g),
        Command::Outcomes(c) => outcomes::run(c, &g),
        Command::Notifications(c) => notifications::run(c, &g),
        Command::Completions(a) => completions::completions(a, &g),
        Command::Man(a) => completions::man(a, &g),
    }
}

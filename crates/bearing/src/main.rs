//! `bearing`: the command line. It parses arguments and wires the library
//! crates together; every capability lives in a crate under `crates/`.
//!
//! Exit codes: 0 ok; 1 invalid input or a failed check (deny); 2 usage or I/O
//! error; 3 a guardrail decision is unknown.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// mimalloc keeps a long-running server's memory flat where glibc's arenas
/// fragment under many threads allocating and freeing JSON (`bench/soak.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bearing closes the gap between what an organisation intends and what its
/// software delivery does: intent as code, guardrails, outcome metrics and
/// adaptation in one loop.
#[derive(Parser)]
#[command(name = "bearing", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 invalid input or failed check, 2 usage or I/O error, 3 unknown decision.\nDocs: docs/ in the repository."
)]
pub struct Cli {
    /// Intent file or folder.
    #[arg(
        long,
        global = true,
        env = "BEARING_INTENT",
        default_value = "bearing.yaml"
    )]
    pub intent: PathBuf,
    /// Event store: a SQLite file path or `sqlite://PATH`, or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "BEARING_DATABASE",
        default_value = "sqlite://bearing.db"
    )]
    pub database: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a commented starter `bearing.yaml` (refuses to overwrite).
    Init(cmd::init::Args),
    /// Check an intent file or folder; every problem is reported at once.
    Validate(cmd::validate::Args),
    /// Print the JSON Schema of the intent format.
    Schema(cmd::schema::Args),
    /// List the metric catalog.
    Metrics(cmd::metrics::Args),
    /// Ingest events from files, folders or stdin.
    Ingest(cmd::ingest::Args),
    /// Read delivery history and SLIs from outside sources (GitHub, Prometheus) into the store.
    #[command(subcommand)]
    Sync(cmd::sync::Command),
    /// Inspect stored events.
    #[command(subcommand)]
    Events(cmd::events::Command),
    /// Print the scorecard of objectives and key results.
    Report(cmd::report::Args),
    /// List the records behind a metric.
    Explain(cmd::explain::Args),
    /// Where the CI pipelines lose time and money, and what to change.
    #[command(subcommand)]
    Pipelines(cmd::pipelines::Command),
    /// Evaluate the guardrails on one change (the CI gate).
    Check(cmd::check::Args),
    /// Show, test and shadow-evaluate policies.
    #[command(subcommand)]
    Policy(cmd::policy::Command),
    /// Show and replay logged decisions.
    #[command(subcommand)]
    Decision(cmd::decision::Command),
    /// The threat-aware security work list, and fetching threat feeds.
    #[command(subcommand)]
    Security(cmd::security::Command),
    /// Evaluate adaptation rules and update delivery plans.
    Reconcile(cmd::reconcile::Args),
    /// Recommend CPU and memory requests from usage, and patch manifests.
    ///
    /// Per pod (OpenCost sums a workload's pods; the pods come from
    /// `properties.pod` or the manifests): p95 CPU and peak memory usage over
    /// the window + 15%, at least 25m / 250Mi for every recommendation (VPA's
    /// minimums, a raise from 0 included). A cut is held per resource while
    /// the service's error budget burns; a raise goes through. Details:
    /// docs/adapt.md (Rightsizing), docs/metrics.md (Waste and rightsizing).
    Rightsize(cmd::rightsize::Args),
    /// Judge a canary against its baseline.
    #[command(subcommand)]
    Canary(cmd::canary::Command),
    /// Train, evaluate and apply the change-risk model; change metrics from git.
    #[command(subcommand)]
    Risk(cmd::risk::Command),
    /// Generate, lint and diff CI/CD workflows.
    #[command(subcommand)]
    Workflow(cmd::workflow::Command),
    /// Run the HTTP API and dashboard.
    Serve(cmd::serve::Args),
    /// Generate a demo organisation, run the whole loop and serve the dashboard.
    Demo(cmd::demo::Args),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(cmd::token::Command),
    /// Export live outcomes and delivery plans for `bearing check --outcomes`.
    #[command(subcommand)]
    Outcomes(cmd::outcomes::Command),
    /// Show the notification delivery log, or what would be sent now.
    #[command(subcommand)]
    Notifications(cmd::notifications::Command),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Print the man page (roff), or write one per command with `--out`.
    Man(cmd::completions::ManArgs),
}

/// `bearing … | head`: once the reader is gone, stop quietly as other Unix
/// tools do (they die of SIGPIPE, status 141) instead of panicking in
/// `println!` ("failed printing to stdout: Broken pipe"). Rust ignores
/// SIGPIPE, and restoring it needs `unsafe`, which the workspace forbids.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload_as_str().unwrap_or_default();
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BEARING_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

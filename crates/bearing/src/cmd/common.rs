//! What several subcommands share: global options, loading the intent,
//! opening the store, output formats.

use std::path::PathBuf;

/// Options every subcommand sees.
pub struct Global {
    pub intent: PathBuf,
    pub database: String,
}

/// `--output` for commands with text and JSON output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// The `--team`/`--service`/`--env` scope of a command, with the service
/// checked against the intent.
pub fn scope(
    intent: &bearing_intent::Intent,
    team: Option<String>,
    service: Option<String>,
    environment: Option<String>,
) -> anyhow::Result<bearing_intent::Scope> {
    if let Some(s) = &service
        && intent.service(s).is_none()
    {
        anyhow::bail!("unknown service `{s}`: expected a service id from the intent");
    }
    Ok(bearing_intent::Scope {
        team,
        service,
        environment,
    })
}

/// A multi-threaded runtime for commands that talk to the store or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Opens the event store `--database` names (creating and migrating it).
pub async fn open_store(g: &Global) -> anyhow::Result<bearing_store::DynStore> {
    use anyhow::Context as _;
    bearing_store::open(&g.database)
        .await
        .with_context(|| format!("cannot open the event store `{}`", g.database))
}

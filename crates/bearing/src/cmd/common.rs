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

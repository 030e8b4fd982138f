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

/// The event bus options `bearing serve` and `bearing ingest` share.
#[derive(clap::Args, Clone)]
pub struct BusArgs {
    /// NATS JetStream server (`nats://HOST:4222`): ingest publishes events to
    /// the bus and answers once JetStream acknowledged them; `bearing serve`
    /// also consumes them into the store with the other replicas.
    #[arg(long, env = "BEARING_BUS", value_name = "URL")]
    pub bus: Option<String>,
    /// Work stream on the bus (`[A-Za-z0-9_-]`); subjects start with its lower
    /// case, dead letters go to `<NAME>_DEAD`.
    #[arg(long, env = "BEARING_BUS_STREAM", value_name = "NAME",
          default_value = bearing_bus::DEFAULT_STREAM, requires = "bus")]
    pub bus_stream: String,
    /// Most bytes the work stream holds; past it, ingest answers 503 until
    /// the consumers catch up.
    #[arg(long, value_name = "BYTES", default_value_t = bearing_bus::DEFAULT_MAX_BYTES,
          value_parser = clap::value_parser!(i64).range(1..), requires = "bus")]
    pub bus_max_bytes: i64,
    /// Longest an event waits in the work stream before it is dropped.
    #[arg(long, value_name = "DURATION", default_value = "7d", requires = "bus")]
    pub bus_max_age: bearing_intent::Duration,
    /// Window in which NATS drops a second message with the same event id.
    #[arg(long, value_name = "DURATION", default_value = "2m", requires = "bus")]
    pub bus_duplicate_window: bearing_intent::Duration,
}

impl BusArgs {
    /// The bus settings, when `--bus` is given.
    pub fn config(&self) -> Option<bearing_bus::Config> {
        let secs = |d: bearing_intent::Duration| std::time::Duration::from_secs(d.as_secs());
        let url = self.bus.as_ref().filter(|u| !u.is_empty())?;
        Some(bearing_bus::Config {
            stream: self.bus_stream.clone(),
            max_bytes: self.bus_max_bytes,
            max_age: secs(self.bus_max_age),
            duplicate_window: secs(self.bus_duplicate_window),
            ..bearing_bus::Config::new(url.clone())
        })
    }
}

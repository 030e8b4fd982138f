//! `bearing serve`: the HTTP API, the dashboard and `/metrics`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use bearing_server::{AuthMode, Config};

use super::common::{BusArgs, Global, runtime};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "BEARING_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve without any token check (loopback addresses only; for local use).
    #[arg(long)]
    pub no_auth: bool,
    /// Let `GET` requests (dashboard, read API) through without a token, e.g.
    /// behind an authenticating proxy; writes and decisions still need one.
    #[arg(long, conflicts_with = "no_auth")]
    pub anonymous_read: bool,
    /// Secret of the GitHub webhook (`/v1/webhooks/github`).
    #[arg(long, env = "BEARING_GITHUB_SECRET", hide_env_values = true)]
    pub github_secret: Option<String>,
    /// How often the in-memory outcome snapshot is refreshed from the store.
    #[arg(long, default_value = "5s")]
    pub refresh: bearing_intent::Duration,
    /// How often reconcile runs (`0s` disables it). With `notifications:` in
    /// the intent, what it changes is notified, as are key results changing
    /// status (checked after each refresh), production denies and waivers
    /// expiring within 7 days.
    #[arg(long, default_value = "5m")]
    pub reconcile_every: bearing_intent::Duration,
    /// Maximum request body in bytes.
    #[arg(long, default_value_t = bearing_server::DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// Most decisions written to the decision log per second (like OPA's
    /// `max_decisions_per_second`); decisions beyond it are answered but not
    /// logged, and counted in `bearing_decision_log_rate_limited_total`.
    /// Default: every decision is logged.
    #[arg(long, value_name = "N")]
    pub decision_log_max_rate: Option<u64>,
    /// Longest wait for a request's headers, from the connection's start or
    /// the previous answer (so it also closes silent keep-alive connections).
    #[arg(long, default_value = "10s")]
    pub header_timeout: bearing_intent::Duration,
    /// Longest a request may take once its headers arrived, body included (408).
    #[arg(long, default_value = "60s")]
    pub request_timeout: bearing_intent::Duration,
    /// A connection on which no byte moved for this long is closed.
    #[arg(long, default_value = "120s")]
    pub idle_timeout: bearing_intent::Duration,
    /// Most connections at once; the next gets 503 and is closed. Lowered to
    /// fit the open-file limit (`ulimit -n`, less 64) when that is smaller.
    #[arg(long, default_value_t = bearing_server::listen::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Evaluations at once on the evaluation pool (decisions with attachments
    /// or custom Rego, the OPA data API). Default: the cores less one.
    #[arg(long, value_name = "N")]
    pub eval_workers: Option<usize>,
    /// A threat feed to fetch on a schedule: CISA's KEV catalog JSON or
    /// FIRST's EPSS CSV (not gzipped), e.g.
    /// https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json;
    /// repeatable. None by default. A feed that cannot be fetched is logged
    /// and tried again at the next round.
    #[arg(long = "threat-feed", value_name = "URL")]
    pub threat_feeds: Vec<String>,
    /// How often the threat feeds are fetched.
    #[arg(long, default_value = "24h")]
    pub threat_every: bearing_intent::Duration,
    #[command(flatten)]
    pub bus: BusArgs,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<ExitCode> {
    if a.no_auth && !a.listen.ip().is_loopback() {
        bail!(
            "`--no-auth` is for local use: it needs a loopback `--listen` address, not `{}`",
            a.listen
        );
    }
    if a.refresh.as_secs() == 0 {
        bail!("`--refresh` must be at least 1s");
    }
    for (flag, d) in [
        ("--header-timeout", a.header_timeout),
        ("--request-timeout", a.request_timeout),
        ("--idle-timeout", a.idle_timeout),
    ] {
        if d.as_secs() == 0 {
            bail!("`{flag}` must be at least 1s");
        }
    }
    if a.threat_every.as_secs() == 0 {
        bail!("`--threat-every` must be at least 1s");
    }
    if let Some(u) = a
        .threat_feeds
        .iter()
        .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        bail!("`--threat-feed {u}`: expected an http(s) URL");
    }
    if a.max_connections == 0 || a.eval_workers == Some(0) {
        bail!("`--max-connections` and `--eval-workers` must be at least 1");
    }
    let secs = |d: bearing_intent::Duration| std::time::Duration::from_secs(d.as_secs());
    let config = Config {
        database: g.database.clone(),
        intent: g.intent.clone(),
        listen: a.listen,
        auth: if a.no_auth {
            AuthMode::Off
        } else if a.anonymous_read {
            AuthMode::AnonymousRead
        } else {
            AuthMode::Tokens
        },
        github_secret: a.github_secret.filter(|s| !s.is_empty()),
        refresh: std::time::Duration::from_secs(a.refresh.as_secs()),
        reconcile: (a.reconcile_every.as_secs() > 0)
            .then(|| std::time::Duration::from_secs(a.reconcile_every.as_secs())),
        body_limit: a.body_limit,
        log_max_rate: a.decision_log_max_rate,
        limits: bearing_server::listen::Limits {
            header_timeout: secs(a.header_timeout),
            idle_timeout: secs(a.idle_timeout),
            max_connections: a.max_connections,
        },
        request_timeout: secs(a.request_timeout),
        eval_workers: a
            .eval_workers
            .unwrap_or_else(bearing_server::default_eval_workers),
        threat_feeds: a.threat_feeds,
        threat_every: secs(a.threat_every),
        bus: a.bus.config(),
    };
    eprintln!("bearing: serving on http://{}", a.listen);
    runtime()?
        .block_on(bearing_server::serve(config))
        .context("`bearing serve` failed")?;
    Ok(ExitCode::SUCCESS)
}

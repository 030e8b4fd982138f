//! `bearing token create|list|revoke`: API tokens for `bearing serve`. The
//! secret is printed once; the store keeps only its SHA-256. A server refuses
//! a revoked or expired token (every replica within
//! `bearing_server::auth::TOKEN_RECHECK`).

use std::process::ExitCode;

use anyhow::bail;
use bearing_server::auth::{Scope, new_token_expiring};
use chrono::{DateTime, SecondsFormat, Utc};

use super::common::{Global, Output, open_store, runtime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a token and print its secret once.
    Create(CreateArgs),
    /// List tokens: id, name, scopes, created, last used, expiry, state (never the secret).
    List(ListArgs),
    /// Revoke a token by id (`tok_…`, from `bearing token list`); servers refuse it at once.
    Revoke(RevokeArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// A name to recognise the token by (e.g. the pipeline using it).
    #[arg(long)]
    pub name: String,
    /// What the token may do: ingest, decide, read, admin (repeat or comma-separate).
    /// The CI gate (`bearing check --server`) needs `decide`.
    #[arg(long = "scope", required = true, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Refuse the token after this long, e.g. `90d` (default: never expires).
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<bearing_intent::Duration>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    /// The token's id (`tok_…`).
    pub id: String,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create(a) => create(a, g),
        Command::List(a) => list(a, g),
        Command::Revoke(a) => revoke(a, g),
    }
}

fn create(a: CreateArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut scopes = Vec::new();
    for s in &a.scopes {
        match Scope::parse(s.trim()) {
            Some(sc) if !scopes.contains(&sc) => scopes.push(sc),
            Some(_) => {}
            None => bail!("unknown scope `{s}`: expected ingest, decide, read or admin"),
        }
    }
    if a.name.trim().is_empty() {
        bail!("the token needs a `--name`");
    }
    let expires_at = match a.expires {
        None => None,
        Some(d) => {
            let secs = i64::try_from(d.as_secs()).ok().filter(|s| *s > 0);
            let at = secs
                .and_then(chrono::TimeDelta::try_seconds)
                .and_then(|d| Utc::now().checked_add_signed(d));
            match at {
                Some(at) => Some(at),
                None => bail!("`--expires {d}` is out of range: expected e.g. `90d`"),
            }
        }
    };
    let token = new_token_expiring(a.name.trim(), &scopes, expires_at)?;
    runtime()?.block_on(async {
        let store = open_store(g).await?;
        store.put_token(&token.record).await?;
        anyhow::Ok(())
    })?;
    match a.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "id": token.record.id,
                "name": token.record.name,
                "scopes": token.record.scopes,
                "expires_at": token.record.expires_at,
                "secret": token.secret,
            })
        ),
        Output::Text => {
            println!("{}", token.secret);
            eprintln!(
                "token `{}` ({}) created with scopes {}{}; the secret above is shown only once.",
                token.record.name,
                token.record.id,
                token.record.scopes.join(", "),
                expires_at.map_or(String::new(), |at| format!(", expiring {}", time(at)))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn list(a: ListArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let tokens = runtime()?.block_on(async {
        let store = open_store(g).await?;
        anyhow::Ok(store.tokens().await?)
    })?;
    let now = Utc::now();
    let state = |t: &bearing_store::TokenRecord| {
        if t.revoked_at.is_some() {
            "revoked"
        } else if !t.is_active(now) {
            "expired"
        } else {
            "active"
        }
    };
    match a.output {
        Output::Json => {
            let list: Vec<_> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id,
                        "name": t.name,
                        "scopes": t.scopes,
                        "created_at": t.created_at,
                        "last_used_at": t.last_used_at,
                        "expires_at": t.expires_at,
                        "revoked_at": t.revoked_at,
                        "state": state(t),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "tokens": list }));
        }
        Output::Text => {
            let never = || "-".to_string();
            let rows: Vec<[String; 7]> = tokens
                .iter()
                .map(|t| {
                    [
                        t.id.clone(),
                        t.name.clone(),
                        t.scopes.join(","),
                        time(t.created_at),
                        t.last_used_at.map_or_else(never, time),
                        t.expires_at.map_or_else(never, time),
                        state(t).to_string(),
                    ]
                })
                .collect();
            let header = [
                "ID",
                "NAME",
                "SCOPES",
                "CREATED",
                "LAST USED",
                "EXPIRES",
                "STATE",
            ]
            .map(String::from);
            let mut widths = header.clone().map(|h| h.chars().count());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            for r in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = r
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                println!("{}", line.join("  ").trim_end());
            }
            if rows.is_empty() {
                eprintln!(
                    "no tokens: create one with `bearing token create --name NAME --scope SCOPE`"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let found = runtime()?.block_on(async {
        let store = open_store(g).await?;
        anyhow::Ok(store.revoke_token(&a.id, Utc::now()).await?)
    })?;
    if !found {
        bail!("no token `{}`: see `bearing token list`", a.id);
    }
    eprintln!("token `{}` revoked", a.id);
    Ok(ExitCode::SUCCESS)
}

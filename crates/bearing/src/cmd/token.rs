//! `bearing token create`: API tokens for `bearing serve`. The secret is
//! printed once; the store keeps only its SHA-256.

use std::process::ExitCode;

use anyhow::bail;
use bearing_server::auth::{Scope, new_token};

use super::common::{Global, Output, open_store, runtime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a token and print its secret once.
    Create(CreateArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// A name to recognise the token by (e.g. the pipeline using it).
    #[arg(long)]
    pub name: String,
    /// What the token may do: ingest, decide, read, admin (repeat or comma-separate).
    #[arg(long = "scope", required = true, value_delimiter = ',')]
    pub scopes: Vec<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create(a) => create(a, g),
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
    let token = new_token(a.name.trim(), &scopes)?;
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
                "secret": token.secret,
            })
        ),
        Output::Text => {
            println!("{}", token.secret);
            eprintln!(
                "token `{}` ({}) created with scopes {}; the secret above is shown only once.",
                token.record.name,
                token.record.id,
                token.record.scopes.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

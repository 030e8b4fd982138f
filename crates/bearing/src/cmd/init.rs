//! `bearing init [DIR]`: writes the commented starter `bearing.yaml`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::EXIT_INVALID;
use super::common::Global;

/// Write a commented starter `bearing.yaml` for a small organisation.
///
/// The file has three teams, four services with SLOs, cost matching and
/// budgets, objectives in all four layers, guardrails, a waiver, workflow
/// settings and two adaptation rules; edit it to describe your organisation.
/// An existing `bearing.yaml` is never overwritten (exit 1).
#[derive(clap::Args)]
#[command(
    after_help = "The starter has three teams, four services with SLOs, cost matching and budgets, objectives in all four layers, guardrails, a waiver, workflow settings and two adaptation rules; edit it to describe your organisation. An existing bearing.yaml is never overwritten.\n\nExit codes: 0 written, 1 the file already exists, 2 it cannot be written."
)]
pub struct Args {
    /// Folder to write `bearing.yaml` into (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: Args, _g: &Global) -> anyhow::Result<ExitCode> {
    let path = args.dir.join("bearing.yaml");
    if path.exists() {
        eprintln!(
            "error: `{}` already exists; not overwriting it (remove it or choose another folder)",
            path.display()
        );
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create folder `{}`", args.dir.display()))?;
    // `create_new` so a file appearing meanwhile is not clobbered either.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: `{}` already exists; not overwriting it",
                path.display()
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create `{}`", path.display())),
    };
    std::io::Write::write_all(&mut file, bearing_intent::STARTER.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    println!("wrote {}", path.display());
    println!("next: bearing --intent {} validate", path.display());
    Ok(ExitCode::SUCCESS)
}

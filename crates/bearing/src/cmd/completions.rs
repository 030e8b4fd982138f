//! `bearing completions SHELL` and `bearing man`: shell completion scripts
//! and man pages generated from the CLI definition itself, so they never
//! drift from `--help`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::common::Global;

#[derive(clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    ///
    /// Install, e.g.: `bearing completions bash > ~/.local/share/bash-completion/completions/bearing`,
    /// `bearing completions zsh > "${fpath[1]}/_bearing"`,
    /// `bearing completions fish > ~/.config/fish/completions/bearing.fish`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `bearing.1` and one `bearing-<command>.1` per subcommand into
    /// this folder instead of printing `bearing.1` to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn completions(a: Args, _g: &Global) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "bearing", &mut buf);
    write_stdout(&buf)?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(a: ManArgs, _g: &Global) -> anyhow::Result<ExitCode> {
    let cmd = crate::Cli::command();
    match a.out {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            write_stdout(&buf)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            // One page per command, subcommands named `bearing-<a>-<b>`.
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages into `{}`", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

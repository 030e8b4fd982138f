//! `bearing validate [PATH]`: loads an intent and prints every diagnostic.

use std::path::PathBuf;
use std::process::ExitCode;

use bearing_intent::{Diagnostic, LoadError, Severity};

use super::EXIT_INVALID;
use super::common::{Global, Output};

/// Check an intent file or folder and report every problem at once.
///
/// Each problem is printed on stdout as `FILE:LINE:COLUMN: error|warning:
/// message`, followed by a summary line. A folder merges every `*.yaml` and
/// `*.yml` file in it. Exit codes: 0 valid (warnings allowed), 1 invalid,
/// 2 the file or folder cannot be read.
#[derive(clap::Args)]
#[command(
    after_help = "Each problem is printed on stdout as `FILE:LINE:COLUMN: error|warning: message`, then a summary line; `--output json` prints an array of {file, line, column, severity, message} instead. A folder merges every *.yaml and *.yml file in it.\n\nExit codes: 0 valid (warnings allowed), 1 invalid, 2 the file or folder cannot be read."
)]
pub struct Args {
    /// Intent file or folder (default: the global `--intent`).
    pub path: Option<PathBuf>,
    /// `json` prints an array of `{file, line, column, severity, message}`.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let path = args.path.unwrap_or_else(|| g.intent.clone());
    let (diags, valid) = match bearing_intent::load(&path) {
        Ok(loaded) => {
            let mut diags = loaded.warnings;
            // Compile every guardrail as the gate will: a Rego policy that
            // does not parse, or that regorus cannot evaluate, fails here.
            match bearing_guard::Engine::new(&loaded.intent, &loaded.root) {
                Ok(_) => (diags, true),
                Err(e) => {
                    diags.push(guardrail_diagnostic(&path, e));
                    (diags, false)
                }
            }
        }
        Err(LoadError::Invalid(diags)) => (diags, false),
        Err(e @ LoadError::Io { .. }) => return Err(e.into()),
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&diags)?),
        Output::Text => print_text(&path, &diags, valid),
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// A guardrail that does not compile, located in its policy file when it is one.
fn guardrail_diagnostic(intent: &std::path::Path, e: bearing_guard::GuardError) -> Diagnostic {
    let (file, line, column, message) = match e {
        bearing_guard::GuardError::Policy {
            file,
            line,
            column,
            message,
        } => (
            PathBuf::from(file),
            line as usize,
            column as usize,
            format!("policy does not compile: {message}"),
        ),
        other => (intent.to_path_buf(), 1, 1, other.to_string()),
    };
    Diagnostic {
        file,
        line,
        column,
        severity: Severity::Error,
        message,
    }
}

fn print_text(path: &std::path::Path, diags: &[Diagnostic], valid: bool) {
    for d in diags {
        println!("{d}");
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if valid {
        println!(
            "{}: valid ({})",
            path.display(),
            plural(warnings, "warning")
        );
    } else {
        println!(
            "{}: invalid ({}, {})",
            path.display(),
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
}

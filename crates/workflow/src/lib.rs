//! Bearing's workflows: strategy that is not inside the pipelines does not
//! exist.
//!
//! - [`generate`] writes a paved-road pipeline per service (GitHub Actions or
//!   GitLab CI) from the intent: build and test, vulnerability scan to SARIF,
//!   cost estimate, the guardrail gate (`bearing check`), deploys following
//!   the delivery plan, and CDEvents reporting to Bearing.
//! - [`lint`] reads existing pipelines and reports, with file:line:column,
//!   where they diverge from the intent.
//! - [`diff`] shows drift between committed and generated pipelines.

pub mod diff;
mod emit;
pub mod generate;
pub mod github;
pub mod gitlab;
pub mod layout;
pub mod lint;
pub mod pins;
pub mod script;
pub mod spec;
pub mod yaml;

pub use generate::{GenerateOptions, GeneratedFile, default_out_dir, generate, target_name};
pub use lint::{Finding, LintOptions, Rule, lint_path, lint_str};

/// Errors of generation and linting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the intent declares no services; add one under `services:` to generate pipelines")]
    NoServices,
    #[error("unknown service `{service}`; the intent declares: {known}")]
    UnknownService { service: String, known: String },
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is neither a workflow file nor a folder with `.github/workflows/*.yml` or `.gitlab-ci.yml`", path.display())]
    NothingToLint { path: std::path::PathBuf },
}

//! bearing-guard: guardrails as a real-time policy gate. A change arrives as
//! an [`Envelope`]; built-in guardrail kinds (Rego modules embedded in the
//! binary, rendered with their parameters) and custom Conftest-style Rego
//! policies evaluate it on `regorus`; the [`Decision`] says allow, warn, deny
//! or unknown, with every violation located, explained and possibly waived.

mod builtins;
mod calls;
pub mod conftest;
pub mod decision;
pub mod engine;
pub mod envelope;
pub mod locate;
mod native;
pub mod normalize;
pub mod output;
pub mod remote;
pub mod render;
mod rewrite;
pub mod testing;
pub mod yaml;

pub use decision::{
    AppliedWaiver, Decision, Effect, ExpiredWaiver, ReplayContext, Verdict, Violation, record_json,
    to_record,
};
pub use engine::{Context, Engine, Limits, ServiceContext, digest};
pub use envelope::{
    Attachment, Attachments, Envelope, read_cost, read_manifests, read_plan, read_scan,
};
pub use locate::Location;

/// Errors from loading policies and attachments, with what was expected.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("`{file}`: {message}")]
    Attachment { file: String, message: String },
    #[error("{file}:{line}:{column}: policy does not compile: {message}")]
    Policy {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("guardrail `{guardrail}`: parameter `{param}` is invalid: expected {expected}")]
    Param {
        guardrail: String,
        param: String,
        expected: String,
    },
    #[error("policy evaluation failed: {0}")]
    Eval(String),
    #[error("server `{url}`: {message}")]
    Remote { url: String, message: String },
    /// The server understood the change and refused it as invalid (HTTP
    /// 422, e.g. an unknown service): a usage error, not an outage.
    #[error("server `{url}` refused the change: {message}")]
    Rejected { url: String, message: String },
}

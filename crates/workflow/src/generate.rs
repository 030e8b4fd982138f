//! `bearing workflow generate`: one pipeline per service, from the intent and
//! the services' current delivery plans.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bearing_events::DeliveryPlan;
use bearing_intent::{Intent, WorkflowTarget};

use crate::Error;
use crate::spec::PipelineSpec;
use crate::{github, gitlab};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions<'a> {
    pub target: WorkflowTarget,
    /// Only this service (default: every service).
    pub service: Option<&'a str>,
    /// Current delivery plans by service id; they override the intent's strategy.
    pub plans: &'a BTreeMap<String, DeliveryPlan>,
    /// The intent path as the user gave it, shown in headers.
    pub intent_path: &'a str,
}

/// One generated file, its path relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The folder files are written to when `--out` is not given.
pub fn default_out_dir(target: WorkflowTarget) -> &'static str {
    match target {
        WorkflowTarget::GithubActions => ".github/workflows",
        WorkflowTarget::GitlabCi => ".",
    }
}

/// The `--target` value of a target.
pub fn target_name(target: WorkflowTarget) -> &'static str {
    match target {
        WorkflowTarget::GithubActions => "github-actions",
        WorkflowTarget::GitlabCi => "gitlab-ci",
    }
}

fn regenerate(opts: &GenerateOptions<'_>, service: Option<&str>) -> String {
    let mut cmd = "bearing".to_string();
    if opts.intent_path != "bearing.yaml" {
        cmd.push_str(&format!(" --intent {}", opts.intent_path));
    }
    cmd.push_str(&format!(
        " workflow generate --target {}",
        target_name(opts.target)
    ));
    if let Some(s) = service {
        cmd.push_str(&format!(" --service {s}"));
    }
    cmd
}

/// Generates the pipelines; same intent and plans, same bytes.
pub fn generate(intent: &Intent, opts: &GenerateOptions<'_>) -> Result<Vec<GeneratedFile>, Error> {
    if intent.services.is_empty() {
        return Err(Error::NoServices);
    }
    let services: Vec<_> = match opts.service {
        Some(id) => {
            let s = intent.service(id).ok_or_else(|| Error::UnknownService {
                service: id.to_string(),
                known: intent
                    .services
                    .iter()
                    .map(|s| s.id.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            vec![s]
        }
        None => intent.services.iter().collect(),
    };
    let mut files = Vec::new();
    match opts.target {
        WorkflowTarget::GithubActions => {
            for s in services {
                let spec = PipelineSpec::new(intent, s, opts.plans.get(&s.id));
                files.push(GeneratedFile {
                    path: PathBuf::from(github::file_name(&s.id)),
                    contents: github::render(
                        &spec,
                        opts.intent_path,
                        &regenerate(opts, Some(&s.id)),
                    ),
                });
            }
        }
        WorkflowTarget::GitlabCi => {
            let all: Vec<String> = intent.services.iter().map(|s| s.id.clone()).collect();
            files.push(GeneratedFile {
                path: PathBuf::from(gitlab::ROOT_FILE),
                contents: gitlab::render_root(&all, opts.intent_path, &regenerate(opts, None)),
            });
            for s in services {
                let spec = PipelineSpec::new(intent, s, opts.plans.get(&s.id));
                files.push(GeneratedFile {
                    path: PathBuf::from(gitlab::service_file(&s.id)),
                    contents: gitlab::render_service(
                        &spec,
                        opts.intent_path,
                        &regenerate(opts, Some(&s.id)),
                    ),
                });
            }
        }
    }
    Ok(files)
}

//! Shell snippets shared by the generated GitHub and GitLab pipelines:
//! CDEvents reporting, scan upload to Bearing, the guardrail gate, the cost
//! estimate and the deploy phases.
//!
//! Scripts read everything from environment variables (never from `${{ }}`
//! expressions spliced into the script), so a branch name or commit message
//! can never become shell code, and the same text runs on both platforms.

use bearing_intent::CanaryPrometheus;

use crate::spec::PipelineSpec;

/// The server path events (CDEvents JSON) are posted to.
pub const EVENTS_PATH: &str = "/v1/events";

/// Names of the CI platform's own variables the scripts use.
#[derive(Debug, Clone, Copy)]
pub struct Platform {
    /// Unique id of the pipeline run.
    pub run_id: &'static str,
    /// URL of the pipeline run.
    pub run_url: &'static str,
    /// Source URI of events (the repository / project).
    pub source: &'static str,
}

pub const GITHUB: Platform = Platform {
    run_id: "${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT}",
    run_url: "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}",
    source: "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}",
};

pub const GITLAB: Platform = Platform {
    run_id: "${CI_PIPELINE_ID}",
    run_url: "${CI_PIPELINE_URL}",
    source: "${CI_PROJECT_URL}",
};

/// A CDEvent the pipeline reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    PipelineStarted,
    /// The outcome is read from `$OUTCOME` (`success`, `failure`, `cancelled`).
    PipelineFinished,
    ServiceDeployed {
        env: &'a str,
    },
    ServiceRolledBack {
        env: &'a str,
    },
}

impl Event<'_> {
    fn cdevent_type(self) -> &'static str {
        match self {
            Event::PipelineStarted => "dev.cdevents.pipelinerun.started.0.2.0",
            Event::PipelineFinished => "dev.cdevents.pipelinerun.finished.0.2.0",
            Event::ServiceDeployed { .. } => "dev.cdevents.service.deployed.0.2.0",
            Event::ServiceRolledBack { .. } => "dev.cdevents.service.rolledback.0.2.0",
        }
    }
    fn suffix(self) -> String {
        match self {
            Event::PipelineStarted => "started".into(),
            Event::PipelineFinished => "finished".into(),
            Event::ServiceDeployed { env } => format!("deployed-{env}"),
            Event::ServiceRolledBack { env } => format!("rolledback-{env}"),
        }
    }
}

/// Wraps a reporting script: it runs only when the server and token are set,
/// and never ends the surrounding script (GitLab runs a job's script lines in
/// one shell, so an `exit` here would skip the build).
fn when_configured(what: &str, body: &str) -> String {
    format!(
        "if [ -z \"${{BEARING_SERVER:-}}\" ] || [ -z \"${{BEARING_TOKEN:-}}\" ]; then\n  echo \"BEARING_SERVER or BEARING_TOKEN is not set; {what} not reported to Bearing\"\nelse\n{body}fi\n"
    )
}

/// A script posting one CDEvent (CDEvents 0.4) to the Bearing server.
pub fn event(p: Platform, spec: &PipelineSpec, ev: Event<'_>) -> String {
    let subject = match ev {
        Event::PipelineStarted => format!(
            "{{\"id\":\"{run}\",\"source\":\"{src}\",\"type\":\"pipelineRun\",\"content\":{{\"pipelineName\":\"bearing-{svc}\",\"url\":\"{url}\"}}}}",
            run = p.run_id,
            src = p.source,
            svc = spec.service,
            url = p.run_url
        ),
        Event::PipelineFinished => format!(
            "{{\"id\":\"{run}\",\"source\":\"{src}\",\"type\":\"pipelineRun\",\"content\":{{\"pipelineName\":\"bearing-{svc}\",\"url\":\"{url}\",\"outcome\":\"${{OUTCOME}}\"}}}}",
            run = p.run_id,
            src = p.source,
            svc = spec.service,
            url = p.run_url
        ),
        Event::ServiceDeployed { env } | Event::ServiceRolledBack { env } => format!(
            "{{\"id\":\"{svc}\",\"source\":\"{src}\",\"type\":\"service\",\"content\":{{\"environment\":{{\"id\":\"{env}\"}},\"artifactId\":\"pkg:generic/{svc}@${{VERSION}}\"}}}}",
            svc = spec.service,
            src = p.source,
        ),
    };
    let body = format!(
        "  now=\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n  curl -fsS --retry 3 -X POST \"${{BEARING_SERVER}}{path}\" \\\n    -H \"Authorization: Bearer ${{BEARING_TOKEN}}\" \\\n    -H \"Content-Type: application/json\" \\\n    --data-binary @- <<EOF || echo \"could not report the event to Bearing\"\n{{\"context\":{{\"version\":\"0.4.1\",\"id\":\"{run}-{svc}-{suffix}\",\"source\":\"{src}\",\"type\":\"{ty}\",\"timestamp\":\"${{now}}\"}},\"subject\":{subject}}}\nEOF\n",
        path = EVENTS_PATH,
        run = p.run_id,
        svc = spec.service,
        suffix = ev.suffix(),
        src = p.source,
        ty = ev.cdevent_type(),
    );
    when_configured("the event is", &body)
}

/// A script posting the scanner's SARIF to Bearing.
pub fn report_scan(sarif: &str) -> String {
    let body = format!(
        "  curl -fsS --retry 3 -X POST \"${{BEARING_SERVER}}{path}?format=sarif&service=${{BEARING_SERVICE}}\" \\\n    -H \"Authorization: Bearer ${{BEARING_TOKEN}}\" \\\n    -H \"Content-Type: application/sarif+json\" \\\n    --data-binary @{sarif} || echo \"could not report the scan to Bearing\"\n",
        path = EVENTS_PATH,
    );
    when_configured("the scan is", &body)
}

/// The Bearing release generated pipelines install (this generator's own
/// version: regenerate to move to a newer one).
pub const BEARING_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where release binaries are published (`.github/workflows/release.yml`):
/// `<RELEASES>/v<version>/bearing-<target>.tar.gz` and `….tar.gz.sha256`.
pub const RELEASES: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/releases/download");

/// The crates.io package of the `bearing` binary.
pub const PACKAGE: &str = "bearing-cli";

/// Installs `bearing` `$BEARING_VERSION` unless the runner already has it:
/// the release binary for the runner (Linux x86_64/aarch64, macOS), checked
/// against its published sha256; built from crates.io with cargo when asked
/// (`BEARING_FROM_SOURCE=true`), when no binary is published for the runner
/// or when curl is missing. Puts it on `PATH` for this shell and, on GitHub
/// Actions, for later steps (`$GITHUB_PATH`). The composite action
/// (`action.yml`) runs this same script.
pub fn install_bearing() -> String {
    format!(
        r#"if ! command -v bearing >/dev/null 2>&1; then
  bin="${{HOME}}/.bearing/bin"
  mkdir -p "${{bin}}"
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-musl ;;
    Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    Darwin-arm64) target=aarch64-apple-darwin ;;
    *) target= ;;
  esac
  if [ "${{BEARING_FROM_SOURCE:-false}}" = true ] || [ -z "${{target}}" ] || ! command -v curl >/dev/null 2>&1; then
    cargo install --locked --root "${{HOME}}/.bearing" {PACKAGE} --version "${{BEARING_VERSION}}"
  else
    url="{RELEASES}/v${{BEARING_VERSION}}/bearing-${{target}}.tar.gz"
    tmp="$(mktemp -d)"
    curl -fsSL --retry 3 -o "${{tmp}}/bearing.tar.gz" "${{url}}"
    curl -fsSL --retry 3 -o "${{tmp}}/bearing.tar.gz.sha256" "${{url}}.sha256"
    expected="$(cut -d ' ' -f 1 "${{tmp}}/bearing.tar.gz.sha256")"
    actual="$( (sha256sum "${{tmp}}/bearing.tar.gz" 2>/dev/null || shasum -a 256 "${{tmp}}/bearing.tar.gz") | cut -d ' ' -f 1)"
    if [ -z "${{expected}}" ] || [ "${{expected}}" != "${{actual}}" ]; then
      echo "bearing-${{target}}.tar.gz: sha256 ${{actual}} does not match the published ${{expected}}" >&2
      exit 1
    fi
    tar -xzf "${{tmp}}/bearing.tar.gz" -C "${{bin}}" bearing
  fi
  PATH="${{bin}}:${{PATH}}"
  export PATH
  if [ -n "${{GITHUB_PATH:-}}" ]; then echo "${{bin}}" >> "${{GITHUB_PATH}}"; fi
fi
bearing --version
"#
    )
}

/// Infracost estimate of the Terraform directory; a diff against `$BASE_SHA`
/// when that commit is available, a breakdown otherwise.
pub fn cost_estimate(tf_dir: &str) -> String {
    format!(
        "tf_dir={dir}\nif [ -n \"${{BASE_SHA:-}}\" ] && git cat-file -e \"${{BASE_SHA}}^{{commit}}\" 2>/dev/null; then\n  git worktree add --detach /tmp/bearing-base \"${{BASE_SHA}}\"\n  infracost breakdown --path \"/tmp/bearing-base/${{tf_dir}}\" --format json --out-file /tmp/infracost-base.json\n  infracost diff --path \"${{tf_dir}}\" --compare-to /tmp/infracost-base.json --format json --out-file infracost.json\nelse\n  infracost breakdown --path \"${{tf_dir}}\" --format json --out-file infracost.json\nfi\n",
        dir = shell_word(tf_dir)
    )
}

/// Terraform plan as JSON for the gate (needs cloud credentials in the job's environment).
pub fn terraform_plan(tf_dir: &str) -> String {
    format!(
        "terraform -chdir={dir} init -input=false\nterraform -chdir={dir} plan -input=false -lock=false -out=tfplan.bin\nterraform -chdir={dir} show -json tfplan.bin > tfplan.json\n",
        dir = shell_word(tf_dir)
    )
}

/// The files the gate attaches, relative to the job's working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachments {
    pub scan: String,
    pub cost: Option<String>,
    pub plan: Option<String>,
}

/// `bearing check` for one environment (`$ENVIRONMENT`, `$VERSION` and
/// `$STRATEGY` come from the job's environment). It asks `$BEARING_SERVER`
/// with `$BEARING_TOKEN` (scope `decide`) when the server is set; when it is
/// unset or empty it decides offline from the intent, with the live outcomes
/// and plans of `$BEARING_OUTCOMES` (a file from `bearing outcomes export`,
/// or an http(s) URL it is published at) when that is set.
pub fn gate(spec: &PipelineSpec, att: &Attachments, output: &str) -> String {
    let mut cmd = format!(
        "{}bearing check --service {} --env \"${{ENVIRONMENT}}\" --version \"${{VERSION}}\" --strategy \"${{STRATEGY}}\" --scan {}",
        fetch_outcomes(),
        shell_word(&spec.service),
        shell_word(&att.scan)
    );
    if let Some(plan) = &att.plan {
        cmd.push_str(&format!(" --plan {}", shell_word(plan)));
    }
    if let Some(cost) = &att.cost {
        cmd.push_str(&format!(" --cost {}", shell_word(cost)));
    }
    cmd.push_str(&format!(" --output {output}\n"));
    cmd
}

/// When `$BEARING_OUTCOMES` is an http(s) URL, downloads the snapshot to
/// `bearing-outcomes.json` and points `$BEARING_OUTCOMES` at it. A server's
/// `/v1/outcomes` gets `$BEARING_TOKEN` (it needs the `read` scope); other
/// URLs (an artifact, a bucket) never see the token.
pub fn fetch_outcomes() -> String {
    r#"case "${BEARING_OUTCOMES:-}" in
  http://* | https://*)
    case "${BEARING_OUTCOMES}" in
      */v1/outcomes) auth="${BEARING_TOKEN:-}" ;;
      *) auth= ;;
    esac
    if [ -n "${auth}" ]; then
      curl -fsSL --retry 3 -H "Authorization: Bearer ${auth}" -o bearing-outcomes.json "${BEARING_OUTCOMES}"
    else
      curl -fsSL --retry 3 -o bearing-outcomes.json "${BEARING_OUTCOMES}"
    fi
    BEARING_OUTCOMES=bearing-outcomes.json
    export BEARING_OUTCOMES
    ;;
esac
"#
    .to_string()
}

/// One phase of the deploy command: the service's command with the phase's
/// variables set (`DEPLOY_PHASE`, `TRAFFIC_PERCENT`).
pub fn deploy_phase(spec: &PipelineSpec) -> String {
    let mut s = spec.deploy.trim_end().to_string();
    s.push('\n');
    s
}

/// How many analysis windows a canary step may stay on hold before it is
/// rolled back.
pub const CANARY_MAX_ANALYSES: u32 = 3;

/// The files the canary analysis judges, relative to the job's directory.
pub const CANARY_BASELINE: &str = "bearing-canary/baseline.json";
pub const CANARY_SAMPLES: &str = "bearing-canary/canary.json";

/// One canary step's analysis: waits `$CANARY_ANALYSIS_SECONDS`, has the
/// deploy command's `analyse` phase write the baseline's and the canary's
/// samples to `$CANARY_BASELINE` and `$CANARY_SAMPLES` (JSON or CSV, see
/// docs/adapt.md), and runs `bearing canary judge` on them. Its exit code
/// decides: promote (0) goes on, rollback (1) fails the step so the rollback
/// runs, hold (4) analyses again, up to [`CANARY_MAX_ANALYSES`] windows, and
/// then rolls back (no evidence the canary is good).
///
/// With `delivery.canary_prometheus` in the intent the samples come from
/// Prometheus instead: one `bearing canary judge --prometheus` per metric
/// over the last `canary_analysis`; any rollback (or an unreachable
/// Prometheus) rolls back, else any hold holds, else promote.
pub fn canary_analysis(spec: &PipelineSpec) -> String {
    match &spec.canary_prometheus {
        Some(prom) => analysis_loop("", &prometheus_judges(spec, prom), ""),
        None => analysis_loop(
            "mkdir -p \"$(dirname \"${CANARY_BASELINE}\")\" \"$(dirname \"${CANARY_SAMPLES}\")\"\n",
            &format!(
                "  export DEPLOY_PHASE=analyse\n{deploy}  verdict=0\n  bearing canary judge --baseline \"${{CANARY_BASELINE}}\" --canary \"${{CANARY_SAMPLES}}\" || verdict=$?\n",
                deploy = indent(&deploy_phase(spec), "  "),
            ),
            " (exit ${verdict})",
        ),
    }
}

/// The analysis loop around `judge`, which leaves the verdict in `$verdict`
/// (0 promote, 4 hold, else rollback); `rollback` ends the rollback message.
fn analysis_loop(setup: &str, judge: &str, rollback: &str) -> String {
    format!(
        r#"{setup}analysis=1
while :; do
  echo "analysing the ${{TRAFFIC_PERCENT}}% canary for ${{CANARY_ANALYSIS_SECONDS}}s (analysis ${{analysis}} of {max})"
  sleep "${{CANARY_ANALYSIS_SECONDS}}"
{judge}  case "${{verdict}}" in
    0) echo "canary judge: promote"; break ;;
    4)
      if [ "${{analysis}}" -ge {max} ]; then
        echo "canary judge: still hold after {max} analyses; rolling back" >&2
        exit 1
      fi
      analysis=$((analysis + 1))
      ;;
    *) echo "canary judge: rollback{rollback}" >&2; exit 1 ;;
  esac
done
"#,
        max = CANARY_MAX_ANALYSES,
    )
}

/// One `bearing canary judge --prometheus` per metric; the worst verdict
/// wins (any rollback, else any hold, else promote).
fn prometheus_judges(spec: &PipelineSpec, prom: &CanaryPrometheus) -> String {
    let mut judges = String::from("  verdict=0\n");
    for m in &prom.metrics {
        let bad = m
            .bad
            .map(|b| format!(" --bad {}", b.name()))
            .unwrap_or_default();
        judges.push_str(&format!(
            "  v=0\n  bearing canary judge --prometheus {url} --baseline-query {baseline} --canary-query {canary} --range {range} --step {step} --metric {name}{bad} || v=$?\n  case \"${{v}}\" in\n    0) ;;\n    4) [ \"${{verdict}}\" -ne 0 ] || verdict=4 ;;\n    *) verdict=1 ;;\n  esac\n",
            url = literal_word(&prom.url),
            baseline = literal_word(&m.baseline),
            canary = literal_word(&m.canary),
            range = literal_word(&spec.canary_analysis.to_string()),
            step = literal_word(&prom.step().to_string()),
            name = literal_word(m.name.trim()),
        ));
    }
    judges
}

/// [`shell_word`] for text from the intent (a URL, PromQL) spliced into a
/// script: also never contains `${{`, which GitHub Actions would evaluate as
/// an expression in a `run:` script (`$` and `{{` are split into two quoted
/// strings the shell joins again).
pub fn literal_word(w: &str) -> String {
    shell_word(w).replace("${{", "$''{{")
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// Quotes a word for the shell when it is not plainly safe.
pub fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '+' | ',')
        })
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("infra/prod"), "infra/prod");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    /// Runs the Prometheus analysis of a two-metric canary with a fake
    /// `bearing` whose judge exits with `$EXIT_<metric>`; returns the exit
    /// code and how many judge calls were made.
    fn analyse_with(a: u8, b: u8) -> (Option<i32>, usize) {
        let intent: bearing_intent::Intent = yaml_serde::from_str(
            r#"
version: 1
services:
  - id: api
    team: core
    delivery:
      strategy: canary
      canary_prometheus:
        url: http://p:9090
        metrics:
          - {name: a, baseline: 'up{version="baseline"}', canary: 'up{version="canary"}'}
          - {name: b, baseline: 'up{version="baseline"}', canary: 'up{version="canary"}'}
"#,
        )
        .unwrap();
        let spec = PipelineSpec::new(&intent, &intent.services[0], None);
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("bearing");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"$*\" >> \"$CALLS\"\nwhile [ \"$1\" != --metric ]; do shift; done\neval \"exit \\${EXIT_$2}\"\n",
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", &fake.display().to_string()])
            .status()
            .unwrap();
        let calls = dir.path().join("calls");
        let out = std::process::Command::new("bash")
            .args(["-e", "-c", &canary_analysis(&spec)])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("CALLS", &calls)
            .env("CANARY_ANALYSIS_SECONDS", "0")
            .env("TRAFFIC_PERCENT", "10")
            .env("EXIT_a", a.to_string())
            .env("EXIT_b", b.to_string())
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(&calls).unwrap_or_default();
        assert!(
            calls.contains("--prometheus http://p:9090 --baseline-query up{version=\"baseline\"} --canary-query up{version=\"canary\"} --range 10m --step 15s --metric a"),
            "{calls}"
        );
        (out.status.code(), calls.lines().count())
    }

    #[test]
    fn the_worst_verdict_of_the_metrics_decides() {
        assert_eq!(analyse_with(0, 0), (Some(0), 2));
        // Rollback (1) or an unreachable Prometheus (2) on any metric.
        assert_eq!(analyse_with(0, 1), (Some(1), 2));
        assert_eq!(analyse_with(2, 0), (Some(1), 2));
        assert_eq!(analyse_with(1, 4), (Some(1), 2));
        // Hold analyses again, three windows in all, then rolls back.
        assert_eq!(analyse_with(4, 0), (Some(1), 6));
    }

    #[test]
    fn literal_words_never_hold_a_github_expression() {
        let q = r#"sum(rate(x{version="canary"}[1m])) ${{ secrets.T }}"#;
        let w = literal_word(q);
        assert!(!w.contains("${{"), "{w}");
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("printf %s {w}")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), q);
    }
}

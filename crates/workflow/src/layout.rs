//! The shape of existing GitHub workflows for pipeline insights: jobs with
//! their `needs`, steps with `uses`/`run`/`with`, `concurrency`, each with
//! its line, read with the linter's positioned YAML tree ([`crate::yaml`]).
//! Insights join it to measured jobs and steps by name to say which line to
//! change.

use std::path::Path;

use bearing_events::{LayoutJob, LayoutStep, PipelineLayout};

use crate::Error;
use crate::lint::{Platform, detect_platform, pipeline_files};
use crate::yaml::{self, Node};

/// The GitHub workflows under `path` (a repository, a workflows folder or
/// one file), and a warning (`file:line:column: what`) per file that is not
/// YAML, which is left out. Files that are not GitHub workflows are left out
/// silently: `bearing workflow lint` reports those.
pub fn layouts(path: &Path) -> Result<(Vec<PipelineLayout>, Vec<String>), Error> {
    let base = if path.is_dir() { path } else { Path::new("") };
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    for file in pipeline_files(path)? {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        let shown = file.strip_prefix(base).unwrap_or(&file).to_string_lossy();
        match layout_doc(&shown, &text) {
            Ok(layout) => out.extend(layout),
            Err(e) => warnings.push(format!("{shown}:{e}")),
        }
    }
    Ok((out, warnings))
}

/// The layout of one workflow file's text, if it is a GitHub workflow.
pub fn layout_str(file: &str, text: &str) -> Option<PipelineLayout> {
    layout_doc(file, text).ok().flatten()
}

/// [`layout_str`], saying where the text is not YAML.
fn layout_doc(file: &str, text: &str) -> Result<Option<PipelineLayout>, yaml::ParseError> {
    let docs = yaml::parse(text)?;
    let Some(root) = docs.first() else {
        return Ok(None);
    };
    if detect_platform(Path::new(file), root) != Some(Platform::Github) {
        return Ok(None);
    }
    let stem = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cancel = root
        .get("concurrency")
        .and_then(|c| c.get("cancel-in-progress"))
        .and_then(Node::as_str)
        .is_some_and(|v| v != "false");
    let line = root
        .key("on")
        .or_else(|| root.key("true"))
        .map_or(1, |k| k.pos.line);
    let jobs = root
        .get("jobs")
        .map(|jobs| {
            jobs.entries()
                .into_iter()
                .filter_map(|(k, v)| Some(job(k.as_str()?, k, v)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(PipelineLayout {
        file: file.to_string(),
        name: root
            .get("name")
            .and_then(Node::as_str)
            .map_or(stem, str::to_string),
        cancel_in_progress: cancel,
        line: line as u32,
        jobs,
    }))
}

fn job(id: &str, key: &Node, v: &Node) -> LayoutJob {
    let needs = match v.get("needs") {
        Some(n) => match n.as_seq() {
            Some(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            None => n.as_str().map(str::to_string).into_iter().collect(),
        },
        None => Vec::new(),
    };
    let steps = v
        .get("steps")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(step)
        .collect();
    LayoutJob {
        id: id.to_string(),
        name: v.get("name").and_then(Node::as_str).map(str::to_string),
        line: key.pos.line as u32,
        needs,
        steps,
    }
}

fn step(s: &Node) -> LayoutStep {
    let get = |k: &str| s.get(k).and_then(Node::as_str).map(str::to_string);
    let uses = get("uses");
    let run = get("run");
    // GitHub shows an unnamed step as `Run <first line>` or `Run <action>`.
    let name = get("name").unwrap_or_else(|| match (&uses, &run) {
        (Some(u), _) => format!("Run {u}"),
        (None, Some(r)) => format!("Run {}", r.lines().next().unwrap_or("").trim()),
        (None, None) => String::new(),
    });
    let with = s
        .get("with")
        .map(|w| {
            w.entries()
                .into_iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    LayoutStep {
        name,
        line: s.pos.line as u32,
        uses,
        run,
        with,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_steps_and_lines() {
        let text = "name: CI\non: push\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm ci\n  test:\n    name: unit tests\n    needs: lint\n    steps:\n      - name: Test\n        uses: actions/setup-node@v4\n        with:\n          cache: npm\n";
        let l = layout_str(".github/workflows/ci.yml", text).unwrap();
        assert_eq!(l.name, "CI");
        assert_eq!(l.line, 2);
        assert!(!l.cancel_in_progress);
        assert_eq!(l.jobs.len(), 2);
        assert_eq!(l.jobs[0].id, "lint");
        assert_eq!(l.jobs[0].line, 4);
        assert_eq!(l.jobs[0].steps[1].name, "Run npm ci");
        assert_eq!(l.jobs[0].steps[1].line, 8);
        assert_eq!(l.jobs[1].name.as_deref(), Some("unit tests"));
        assert_eq!(l.jobs[1].needs, vec!["lint"]);
        assert_eq!(
            l.jobs[1].steps[0].with,
            vec![("cache".to_string(), "npm".to_string())]
        );
    }

    #[test]
    fn a_workflow_that_is_not_yaml_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".github/workflows");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: ls}]\n",
        )
        .unwrap();
        std::fs::write(dir.join("broken.yml"), "on: push\njobs:\n  a: [unclosed\n").unwrap();
        let (layouts, warnings) = layouts(tmp.path()).unwrap();
        assert_eq!(layouts.len(), 1);
        assert_eq!(layouts[0].file, ".github/workflows/ci.yml");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(".github/workflows/broken.yml:"),
            "{warnings:?}"
        );
        let line: u32 = warnings[0].split(':').nth(1).unwrap().parse().unwrap();
        assert!((3..=4).contains(&line), "{warnings:?}");
    }
}

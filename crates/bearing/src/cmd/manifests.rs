//! Edits the CPU and memory requests (and limits) of containers in
//! Kubernetes manifests in place: the text is changed where the values are,
//! so comments, quoting, key order and indentation stay as they were; the
//! YAML is never re-serialised.
//!
//! A workload names its container as OpenCost aggregates it:
//! `namespace/controller/container`, `controller/container` or `container`
//! (a `kind:` prefix on the controller, as in `deployment:web`, is dropped).
//! A container matches when its name is the last part, its object's
//! `metadata.name` the controller part and its `metadata.namespace` (when the
//! manifest sets one) the namespace part. Exactly one container must match.
//!
//! Limits keep their ratio to the request (as VPA does with
//! `controlledValues: RequestsAndLimits`); a limit without a request is
//! raised to the new request when it would fall below it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
pub use bearing_metrics::{format_cpu, format_memory};
use serde::Serialize;
use serde_json::Value;

/// New requests for one workload: CPU in cores, memory in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    pub workload: String,
    pub cpu: f64,
    pub memory: f64,
}

/// One value changed (or added) in a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edit {
    pub workload: String,
    pub file: String,
    /// 1-based line of the value in the file before the edit.
    pub line: usize,
    pub object: String,
    pub container: String,
    /// `requests.cpu`, `limits.memory`, …
    pub field: String,
    pub old: Option<String>,
    pub new: String,
}

/// A file with its text before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePatch {
    pub path: PathBuf,
    pub name: String,
    pub before: String,
    pub after: String,
}

/// New replica bounds for the HorizontalPodAutoscaler of `target` (its
/// `scaleTargetRef.name` or its own name); with `only_raise`, a bound
/// already higher stays.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicas {
    pub target: String,
    pub min: u32,
    pub max: u32,
    pub only_raise: bool,
}

/// A workload that could not be placed, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub workload: String,
    pub reason: String,
}

/// What [`plan`] found to do.
#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<FilePatch>,
    pub edits: Vec<Edit>,
    pub skipped: Vec<Skipped>,
    /// Files that could not be read as YAML, with where and why.
    pub unreadable: Vec<String>,
}

struct Container {
    file: usize,
    doc: Value,
    /// JSON pointer of the container in the file's location index.
    pointer: String,
    object: String,
    namespace: Option<String>,
    name: String,
    kind: String,
}

struct Loaded {
    path: PathBuf,
    name: String,
    text: String,
    index: bearing_guard::locate::LocationIndex,
    docs: Vec<Value>,
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            yaml_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Where the containers of an object are, by kind.
fn containers_path(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec/containers"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec/containers"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec/containers"),
        _ => None,
    }
}

fn load(dir: &Path) -> anyhow::Result<(Vec<Loaded>, Vec<Container>, Vec<String>)> {
    let mut paths = Vec::new();
    yaml_files(dir, &mut paths)?;
    let (mut files, mut containers, mut unreadable) = (Vec::new(), Vec::new(), Vec::new());
    for path in paths {
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let (docs, index) = match bearing_guard::yaml::parse_yaml_located(&text) {
            Ok(x) => x,
            Err(e) => {
                unreadable.push(format!("{name}: {e}"));
                continue;
            }
        };
        let file = files.len();
        for (d, doc) in docs.iter().enumerate() {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let Some(at) = containers_path(kind) else {
                continue;
            };
            let Some(list) = doc.pointer(at).and_then(Value::as_array) else {
                continue;
            };
            for (i, c) in list.iter().enumerate() {
                let Some(cname) = c["name"].as_str() else {
                    continue;
                };
                containers.push(Container {
                    file,
                    doc: c.clone(),
                    pointer: format!("/{d}{at}/{i}"),
                    object: doc["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    namespace: doc["metadata"]["namespace"].as_str().map(str::to_string),
                    name: cname.to_string(),
                    kind: kind.to_string(),
                });
            }
        }
        files.push(Loaded {
            path,
            name,
            text,
            index,
            docs,
        });
    }
    Ok((files, containers, unreadable))
}

fn matches(c: &Container, workload: &str) -> bool {
    names_container(workload, c.namespace.as_deref(), &c.object, &c.name)
}

/// Whether an OpenCost workload name (`namespace/controller/container`, …)
/// names container `container` of object `object` in `namespace` (see the
/// module docs).
pub fn names_container(
    workload: &str,
    namespace: Option<&str>,
    object: &str,
    container: &str,
) -> bool {
    let parts: Vec<&str> = workload.split('/').collect();
    let Some((last, rest)) = parts.split_last() else {
        return false;
    };
    if *last != container {
        return false;
    }
    let controller = rest.last().map(|x| x.rsplit(':').next().unwrap_or(x));
    let ns = (rest.len() >= 2).then(|| rest[rest.len() - 2]);
    controller.is_none_or(|x| x == object) && ns.is_none_or(|n| namespace.is_none_or(|m| m == n))
}

/// What the manifests say about the pods of one container: its per-pod
/// requests and, unless a HorizontalPodAutoscaler scales it, its object's
/// replicas (a Pod: one; `replicas` absent: one).
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub namespace: Option<String>,
    pub object: String,
    pub container: String,
    pub spec: bearing_metrics::PodSpec,
    /// Fixed replicas and `file:line` of the value (or of the object).
    pub fixed: Option<(f64, String)>,
}

/// The pod info of every container under `dir` (files that are not valid
/// YAML are left out; [`plan`] lists them).
pub fn pod_infos(dir: &Path) -> anyhow::Result<Vec<PodInfo>> {
    let (files, containers, _) = load(dir)?;
    let scaled = |object: &str, ns: Option<&str>| {
        files.iter().flat_map(|f| &f.docs).any(|doc| {
            doc["kind"] == "HorizontalPodAutoscaler"
                && doc["spec"]["scaleTargetRef"]["name"] == object
                && ns.is_none_or(|n| doc["metadata"]["namespace"].as_str().is_none_or(|m| m == n))
        })
    };
    let mut out = Vec::new();
    for c in &containers {
        let f = &files[c.file];
        let d = c.pointer[1..].split('/').next().unwrap_or("0");
        let doc = d.parse::<usize>().ok().and_then(|d| f.docs.get(d));
        let at = |p: &str| {
            bearing_guard::locate::lookup(&f.index, p)
                .map_or_else(|| f.name.clone(), |[l, _]| format!("{}:{l}", f.name))
        };
        let request = |r: &str| {
            let v = &c.doc["resources"]["requests"][r];
            v.as_str()
                .map_or_else(|| v.as_f64(), parse_quantity)
                .filter(|x| *x > 0.0)
        };
        let fixed = match c.kind.as_str() {
            "Pod" => Some((1.0, at(&format!("/{d}/kind")))),
            "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController"
                if !scaled(&c.object, c.namespace.as_deref()) =>
            {
                let n = doc.map_or(1.0, |x| x["spec"]["replicas"].as_f64().unwrap_or(1.0));
                Some((n, at(&format!("/{d}/spec/replicas"))))
            }
            _ => None,
        };
        out.push(PodInfo {
            namespace: c.namespace.clone(),
            object: c.object.clone(),
            container: c.name.clone(),
            spec: bearing_metrics::PodSpec {
                cpu: request("cpu"),
                ram: request("memory"),
                replicas: fixed.as_ref().map(|x| x.0),
                source: at(&format!("{}/resources/requests", c.pointer)),
            },
            fixed,
        });
    }
    Ok(out)
}

/// One container recommendation of a VerticalPodAutoscaler object
/// (`status.recommendation.containerRecommendations[]`): its target in cores
/// and bytes, for the container of the object its `spec.targetRef` names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VpaTarget {
    pub file: String,
    pub line: u32,
    pub namespace: Option<String>,
    pub object: String,
    pub container: String,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

/// Reads the VerticalPodAutoscaler objects of a file (multi-document YAML;
/// other kinds are ignored). An unreadable quantity is an error naming the
/// file and line.
pub fn read_vpa(path: &Path) -> anyhow::Result<Vec<VpaTarget>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{name}`"))?;
    let (docs, index) = bearing_guard::yaml::parse_yaml_located(&text)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let mut out = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        if doc["kind"] != "VerticalPodAutoscaler" {
            continue;
        }
        let recs = doc
            .pointer("/status/recommendation/containerRecommendations")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, r) in recs.iter().enumerate() {
            let at = format!("/{d}/status/recommendation/containerRecommendations/{i}");
            let line = bearing_guard::locate::lookup(&index, &at).map_or(0, |[l, _]| l);
            let quantity = |resource: &str| -> anyhow::Result<Option<f64>> {
                let v = &r["target"][resource];
                if v.is_null() {
                    return Ok(None);
                }
                let raw = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                let [l, _] =
                    bearing_guard::locate::lookup(&index, &format!("{at}/target/{resource}"))
                        .unwrap_or([line, 0]);
                parse_quantity(&raw).map(Some).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{name}:{l}: target.{resource} `{raw}` is not a Kubernetes quantity"
                    )
                })
            };
            out.push(VpaTarget {
                file: name.clone(),
                line,
                namespace: doc["metadata"]["namespace"].as_str().map(str::to_string),
                object: doc["spec"]["targetRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                container: r["containerName"].as_str().unwrap_or_default().to_string(),
                cpu: quantity("cpu")?,
                memory: quantity("memory")?,
            });
        }
    }
    Ok(out)
}

/// Reads a Kubernetes quantity (`250m`, `0.5`, `64Mi`, `1e3`, `12Gi`).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in suffixes {
        if let Some(n) = s.strip_suffix(suffix) {
            return n
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v * factor);
        }
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

/// A change to a file's lines: replace a scalar, or insert lines before a line.
enum Op {
    Replace {
        line: usize,
        col: usize,
        new: String,
    },
    Insert {
        before: usize,
        lines: Vec<String>,
    },
}

/// The byte offset of a 1-based character column in a line.
fn byte_at(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i)
}

/// The end (exclusive) of the scalar token starting at `start`.
fn token_end(line: &str, start: usize) -> usize {
    let rest = &line[start..];
    if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let mut escaped = false;
        for (i, ch) in rest.char_indices().skip(1) {
            if q == '"' && ch == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if ch == q && !escaped {
                return start + i + 1;
            }
            escaped = false;
        }
        return line.len();
    }
    let mut end = rest.len();
    for (i, ch) in rest.char_indices() {
        if matches!(ch, ',' | '}' | ']') || (ch == '#' && rest[..i].ends_with([' ', '\t'])) {
            end = i;
            break;
        }
    }
    start + rest[..end].trim_end().len()
}

fn apply(text: &str, mut ops: Vec<Op>) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let key = |o: &Op| match o {
        Op::Replace { line, col, .. } => (*line, 1, *col),
        Op::Insert { before, .. } => (*before, 0, 0),
    };
    ops.sort_by_key(|o| std::cmp::Reverse(key(o)));
    for op in ops {
        match op {
            Op::Replace { line, col, new } => {
                let Some(l) = lines.get_mut(line - 1) else {
                    continue;
                };
                let start = byte_at(l, col);
                let end = token_end(l, start);
                let quote = l[start..]
                    .chars()
                    .next()
                    .filter(|c| *c == '"' || *c == '\'');
                let token = match quote {
                    Some(q) => format!("{q}{new}{q}"),
                    None => new,
                };
                l.replace_range(start..end, &token);
            }
            Op::Insert { before, lines: new } => {
                let at = (before - 1).min(lines.len());
                if at == lines.len()
                    && let Some(l) = lines.last_mut()
                    && !l.ends_with('\n')
                {
                    l.push('\n');
                }
                for (k, l) in new.into_iter().enumerate() {
                    lines.insert(at + k, format!("{l}\n"));
                }
            }
        }
    }
    lines.concat()
}

/// The ops and edits for one container.
fn edits_for(
    f: &Loaded,
    c: &Container,
    s: &Sizing,
    ops: &mut Vec<Op>,
    edits: &mut Vec<Edit>,
) -> Result<(), String> {
    let at = |p: &str| bearing_guard::locate::lookup(&f.index, &format!("{}{p}", c.pointer));
    let text_lines: Vec<&str> = f.text.lines().collect();
    let line_of = |n: u32| text_lines.get(n as usize - 1).copied().unwrap_or("");
    let object = match &c.namespace {
        Some(ns) => format!("{} {ns}/{}", c.kind, c.object),
        None => format!("{} {}", c.kind, c.object),
    };
    let res = &c.doc["resources"];
    let mut edit = |line: usize, field: &str, old: Option<String>, new: String| {
        edits.push(Edit {
            workload: s.workload.clone(),
            file: f.name.clone(),
            line,
            object: object.clone(),
            container: c.name.clone(),
            field: field.to_string(),
            old,
            new,
        });
    };
    // new values per (section, resource)
    let mut values: Vec<(&str, &str, String)> = Vec::new();
    for (resource, new, format) in [
        ("cpu", s.cpu, format_cpu as fn(f64) -> String),
        ("memory", s.memory, format_memory as fn(f64) -> String),
    ] {
        let quantity = |section: &str| -> Result<Option<f64>, String> {
            match &res[section][resource] {
                Value::Null => Ok(None),
                v => {
                    let raw = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    parse_quantity(&raw).map(Some).ok_or_else(|| {
                        let [l, _] =
                            at(&format!("/resources/{section}/{resource}")).unwrap_or([0, 0]);
                        format!("{}:{l}: `{raw}` is not a Kubernetes quantity", f.name)
                    })
                }
            }
        };
        let req = quantity("requests")?;
        let lim = quantity("limits")?;
        values.push(("requests", resource, format(new)));
        let new_limit = match (req, lim) {
            (Some(r), Some(l)) if r > 0.0 => Some(l * new / r),
            (None, Some(l)) if l < new => Some(new),
            _ => None,
        };
        if let Some(l) = new_limit {
            values.push(("limits", resource, format(l)));
        }
    }
    // sections that exist as block maps get their values replaced or added
    let mut missing: Vec<(&str, Vec<(String, String)>)> = Vec::new();
    for section in ["requests", "limits"] {
        let mine: Vec<&(&str, &str, String)> = values.iter().filter(|v| v.0 == section).collect();
        if mine.is_empty() {
            continue;
        }
        if res[section].is_object() {
            let [sl, sc] = at(&format!("/resources/{section}")).ok_or("no location")?;
            let flow = line_of(sl)[byte_at(line_of(sl), sc as usize)..].starts_with('{');
            for (_, resource, new) in mine {
                let pointer = format!("/resources/{section}/{resource}");
                if let Some([l, col]) = at(&pointer) {
                    let old = res[section][resource]
                        .as_str()
                        .map_or_else(|| res[section][resource].to_string(), str::to_string);
                    if parse_quantity(&old) == parse_quantity(new) {
                        continue;
                    }
                    ops.push(Op::Replace {
                        line: l as usize,
                        col: col as usize,
                        new: new.clone(),
                    });
                    edit(
                        l as usize,
                        &format!("{section}.{resource}"),
                        Some(old),
                        new.clone(),
                    );
                } else if flow {
                    return Err(format!(
                        "{}:{sl}: `resources.{section}` is a flow mapping without `{resource}`; edit it by hand",
                        f.name
                    ));
                } else {
                    let indent = " ".repeat(sc as usize - 1);
                    ops.push(Op::Insert {
                        before: sl as usize,
                        lines: vec![format!("{indent}{resource}: {new}")],
                    });
                    edit(
                        sl as usize,
                        &format!("{section}.{resource}"),
                        None,
                        new.clone(),
                    );
                }
            }
        } else {
            missing.push((
                section,
                mine.iter()
                    .map(|v| (v.1.to_string(), v.2.clone()))
                    .collect(),
            ));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    // whole sections to add, under `resources` or with it
    let block = |indent: &str| -> Vec<String> {
        let mut out = Vec::new();
        for (section, list) in &missing {
            out.push(format!("{indent}{section}:"));
            for (k, v) in list {
                out.push(format!("{indent}  {k}: {v}"));
            }
        }
        out
    };
    let first_line = missing
        .iter()
        .flat_map(|(s, l)| l.iter().map(move |(k, v)| (s, k, v)))
        .collect::<Vec<_>>();
    let mut record = |line: usize| {
        for (s, k, v) in &first_line {
            edit(line, &format!("{s}.{k}"), None, v.to_string());
        }
    };
    if res.is_object() && res.as_object().is_some_and(|m| !m.is_empty()) {
        let [rl, rc] = at("/resources").ok_or("no location")?;
        if line_of(rl)[byte_at(line_of(rl), rc as usize)..].starts_with('{') {
            return Err(format!(
                "{}:{rl}: `resources` is a flow mapping; edit it by hand",
                f.name
            ));
        }
        ops.push(Op::Insert {
            before: rl as usize,
            lines: block(&" ".repeat(rc as usize - 1)),
        });
        record(rl as usize);
        return Ok(());
    }
    let [cl, cc] = at("").ok_or("no location")?;
    let key_indent = " ".repeat(cc as usize - 1);
    if res.is_object() {
        // `resources: {}`: the empty flow map becomes a block
        let [rl, rc] = at("/resources").ok_or("no location")?;
        let line = line_of(rl);
        let start = byte_at(line, rc as usize);
        if !line[start..].starts_with("{}") {
            return Err(format!("{}:{rl}: cannot read `resources`", f.name));
        }
        let indent = line
            .find("resources")
            .map_or(key_indent.clone(), |k| " ".repeat(k));
        ops.push(Op::Replace {
            line: rl as usize,
            col: rc as usize,
            new: String::new(),
        });
        ops.push(Op::Insert {
            before: rl as usize + 1,
            lines: block(&format!("{indent}  ")),
        });
        record(rl as usize);
        return Ok(());
    }
    // no `resources`: add it after the container's `name`
    let [nl, _] = at("/name").ok_or("no location")?;
    let _ = cl;
    let mut lines = vec![format!("{key_indent}resources:")];
    lines.extend(block(&format!("{key_indent}  ")));
    ops.push(Op::Insert {
        before: nl as usize + 1,
        lines,
    });
    record(nl as usize + 1);
    Ok(())
}

/// The edits of one HPA (document `d` of file `f`).
fn hpa_edits(f: &Loaded, d: usize, r: &Replicas, ops: &mut Vec<Op>, edits: &mut Vec<Edit>) {
    let doc = &f.docs[d];
    let object = format!(
        "HorizontalPodAutoscaler {}{}",
        doc["metadata"]["namespace"]
            .as_str()
            .map(|n| format!("{n}/"))
            .unwrap_or_default(),
        doc["metadata"]["name"].as_str().unwrap_or_default()
    );
    let lines: Vec<&str> = f.text.lines().collect();
    for (key, new, default) in [
        ("minReplicas", r.min, Some(1)),
        ("maxReplicas", r.max, None),
    ] {
        let current = doc["spec"][key].as_u64().map(|v| v as u32).or(default);
        let new = match current {
            Some(c) if r.only_raise => new.max(c),
            _ => new,
        };
        if current == Some(new) && !doc["spec"][key].is_null() {
            continue;
        }
        let mut edit = |line: usize| {
            edits.push(Edit {
                workload: r.target.clone(),
                file: f.name.clone(),
                line,
                object: object.clone(),
                container: String::new(),
                field: format!("spec.{key}"),
                old: doc["spec"][key].as_u64().map(|v| v.to_string()),
                new: new.to_string(),
            });
        };
        match bearing_guard::locate::lookup(&f.index, &format!("/{d}/spec/{key}")) {
            Some([l, col]) => {
                ops.push(Op::Replace {
                    line: l as usize,
                    col: col as usize,
                    new: new.to_string(),
                });
                edit(l as usize);
            }
            None => {
                // before `maxReplicas` (required), at its indentation
                let Some([l, _]) =
                    bearing_guard::locate::lookup(&f.index, &format!("/{d}/spec/maxReplicas"))
                else {
                    continue;
                };
                let line = lines.get(l as usize - 1).copied().unwrap_or("");
                let indent: String = line.chars().take_while(|c| *c == ' ').collect();
                ops.push(Op::Insert {
                    before: l as usize,
                    lines: vec![format!("{indent}{key}: {new}")],
                });
                edit(l as usize);
            }
        }
    }
}

/// Finds the container of every sizing and the HPA of every replicas
/// change under `dir` and computes the edits.
pub fn plan(dir: &Path, sizings: &[Sizing], replicas: &[Replicas]) -> anyhow::Result<Plan> {
    let (files, containers, unreadable) = load(dir)?;
    let mut out = Plan {
        unreadable,
        ..Plan::default()
    };
    let mut ops: Vec<Vec<Op>> = files.iter().map(|_| Vec::new()).collect();
    for s in sizings {
        let found: Vec<&Container> = containers
            .iter()
            .filter(|c| matches(c, &s.workload))
            .collect();
        let c = match found.as_slice() {
            [] => {
                out.skipped.push(Skipped {
                    workload: s.workload.clone(),
                    reason: "no container in the manifests matches".into(),
                });
                continue;
            }
            [c] => *c,
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|c| format!("{} ({} {})", files[c.file].name, c.kind, c.object))
                    .collect();
                out.skipped.push(Skipped {
                    workload: s.workload.clone(),
                    reason: format!("several containers match: {}", list.join(", ")),
                });
                continue;
            }
        };
        let f = &files[c.file];
        let mut mine = Vec::new();
        let mut edits = Vec::new();
        match edits_for(f, c, s, &mut mine, &mut edits) {
            Ok(()) => {
                ops[c.file].extend(mine);
                out.edits.extend(edits);
            }
            Err(reason) => out.skipped.push(Skipped {
                workload: s.workload.clone(),
                reason,
            }),
        }
    }
    for r in replicas {
        let found: Vec<(usize, usize)> = files
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.docs.iter().enumerate().map(move |(d, doc)| (i, d, doc)))
            .filter(|(_, _, doc)| {
                doc["kind"] == "HorizontalPodAutoscaler"
                    && (doc["spec"]["scaleTargetRef"]["name"] == r.target.as_str()
                        || doc["metadata"]["name"] == r.target.as_str())
            })
            .map(|(i, d, _)| (i, d))
            .collect();
        match found.as_slice() {
            [(i, d)] => hpa_edits(&files[*i], *d, r, &mut ops[*i], &mut out.edits),
            [] => out.skipped.push(Skipped {
                workload: r.target.clone(),
                reason: "no HorizontalPodAutoscaler in the manifests targets it".into(),
            }),
            many => out.skipped.push(Skipped {
                workload: r.target.clone(),
                reason: format!(
                    "several HorizontalPodAutoscalers target it: {}",
                    many.iter()
                        .map(|(i, _)| files[*i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
    for (f, ops) in files.into_iter().zip(ops) {
        if ops.is_empty() {
            continue;
        }
        let after = apply(&f.text, ops);
        if after != f.text {
            out.files.push(FilePatch {
                path: f.path,
                name: f.name,
                before: f.text,
                after,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("64Mi"), Some(64.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("4"), Some(4.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("12Gi"), Some(12.0 * 1024f64.powi(3)));
        assert_eq!(parse_quantity("x"), None);
        assert_eq!(format_cpu(1.15), "1150m");
        assert_eq!(format_memory(2356.0 * 1024.0 * 1024.0), "2356Mi");
    }

    #[test]
    fn tokens_keep_quotes_and_comments() {
        let ops = vec![
            Op::Replace {
                line: 1,
                col: 6,
                new: "100m".into(),
            },
            Op::Replace {
                line: 2,
                col: 9,
                new: "64Mi".into(),
            },
        ];
        let out = apply("cpu: \"250m\" # was\nmemory: 128Mi   # keep\n", ops);
        assert_eq!(out, "cpu: \"100m\" # was\nmemory: 64Mi   # keep\n");
    }

    #[test]
    fn workload_names() {
        let c = Container {
            file: 0,
            doc: Value::Null,
            pointer: String::new(),
            object: "web".into(),
            namespace: Some("shop".into()),
            name: "api".into(),
            kind: "Deployment".into(),
        };
        assert!(matches(&c, "shop/web/api"));
        assert!(matches(&c, "shop/deployment:web/api"));
        assert!(matches(&c, "web/api"));
        assert!(matches(&c, "api"));
        assert!(!matches(&c, "other/web/api"));
        assert!(!matches(&c, "shop/web/worker"));
    }
}

//! Loading `bearing.yaml` (a file or a folder of YAML files) into one [`Intent`].
//!
//! Each file is parsed once into a positioned tree (`yaml.rs`). Top-level
//! lists from every file are concatenated; `version` must agree and the other
//! top-level fields may be set in one file only. Every list item is
//! deserialised on its own, so one bad item does not hide the errors of the
//! others, and the semantic checks (`check.rs`) run on everything that parsed.
//! All problems come back at once as [`Diagnostic`]s, `FILE:LINE:COLUMN`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::de::{Error as DeError, from_node, from_value_of};
use crate::model::Intent;
use crate::suggest::{one_of, suggest};
use crate::yaml::{self, Node, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in an intent file, with where it is (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every diagnostic, errors and warnings, in file order.
    #[error("the intent has {} error(s)", .0.iter().filter(|d| d.severity == Severity::Error).count())]
    Invalid(Vec<Diagnostic>),
}

/// A valid intent, with warnings and the folder relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub intent: Intent,
    pub warnings: Vec<Diagnostic>,
    pub root: PathBuf,
}

/// What validation depends on besides the files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The day expired waivers are judged against (default: today, UTC).
    pub today: NaiveDate,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            today: chrono::Utc::now().date_naive(),
        }
    }
}

/// Loads a file, or every `*.yaml`/`*.yml` file in a folder (not recursive,
/// in name order).
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with explicit options.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(LoadError::Invalid(vec![Diagnostic {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
                severity: Severity::Error,
                message:
                    "the folder has no `*.yaml` or `*.yml` files; expected at least one intent file"
                        .into(),
            }]));
        }
        let mut sources = Vec::with_capacity(files.len());
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| LoadError::Io {
                path: f.clone(),
                source,
            })?;
            sources.push((f, text));
        }
        let mut loaded = load_sources(&sources, opts)?;
        loaded.root = path.to_path_buf();
        Ok(loaded)
    } else {
        let text = std::fs::read_to_string(path).map_err(io)?;
        let mut loaded = load_sources(&[(path.to_path_buf(), text)], opts)?;
        loaded.root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(loaded)
    }
}

/// Parses and validates one document given its text (today's date for waivers).
pub fn load_str(file: &Path, text: &str) -> Result<Loaded, LoadError> {
    load_sources(
        &[(file.to_path_buf(), text.to_string())],
        &LoadOptions::default(),
    )
}

/// Parses, merges and validates several documents given as `(file name, text)`.
/// `root` is left empty; [`load_with`] sets it.
pub fn load_sources(
    sources: &[(PathBuf, String)],
    opts: &LoadOptions,
) -> Result<Loaded, LoadError> {
    let files: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
    let mut out = Diags::new(&files);
    let mut roots = Vec::with_capacity(sources.len());
    for (fi, (_, text)) in sources.iter().enumerate() {
        let (root, errors) = yaml::parse(text);
        for e in errors {
            out.error(fi, (e.line, e.col), e.message);
        }
        roots.push(root);
    }

    let mut b = Builder {
        intent: Intent::default(),
        src: Sources::default(),
        out: &mut out,
    };
    for (fi, root) in roots.iter().enumerate() {
        if let Some(root) = root {
            b.add_file(fi, root);
        } else if !b.out.has_errors_in(fi) {
            b.out.error(
                fi,
                (1, 1),
                "the file is empty; expected a mapping starting with `version: 1`".into(),
            );
        }
    }
    let Builder {
        mut intent, src, ..
    } = b;
    let all_mappings = roots
        .iter()
        .all(|r| r.as_ref().is_some_and(|n| matches!(n.value, Value::Map(_))));
    if src.version.is_none() && !src.bad_version && all_mappings {
        out.error(
            0,
            (1, 1),
            "missing field `version`; expected `version: 1` at the top of the file".into(),
        );
    }
    if intent.version == 0 {
        intent.version = 1;
    }
    crate::check::run(&intent, &src, opts.today, &mut out);

    let diags = out.finish();
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError::Invalid(diags));
    }
    Ok(Loaded {
        intent,
        warnings: diags,
        root: PathBuf::new(),
    })
}

/// A node and the file it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Src<'a> {
    pub file: usize,
    pub node: &'a Node,
}

/// Where each part of the merged intent was written. Item lists are parallel
/// to the intent's lists; `broken` holds ids of items that failed to parse, so
/// references to them are not reported a second time.
#[derive(Debug, Default)]
pub(crate) struct Sources<'a> {
    pub version: Option<Src<'a>>,
    /// A `version` was written but is not a number.
    pub bad_version: bool,
    pub settings: Option<Src<'a>>,
    pub notifications: Option<Src<'a>>,
    pub teams: Vec<Src<'a>>,
    pub services: Vec<Src<'a>>,
    pub objectives: Vec<Src<'a>>,
    pub guardrails: Vec<Src<'a>>,
    pub waivers: Vec<Src<'a>>,
    pub adaptation: Vec<Src<'a>>,
    pub broken: HashMap<&'static str, Vec<String>>,
}

const TOP_FIELDS: &[&str] = &[
    "version",
    "organisation",
    "teams",
    "services",
    "objectives",
    "guardrails",
    "waivers",
    "workflows",
    "adaptation",
    "settings",
    "notifications",
];

struct Builder<'a, 'm, 'f> {
    intent: Intent,
    src: Sources<'a>,
    out: &'m mut Diags<'f>,
}

impl<'a> Builder<'a, '_, '_> {
    fn add_file(&mut self, fi: usize, root: &'a Node) {
        let Value::Map(entries) = &root.value else {
            self.out.error(
                fi,
                (root.line, root.col),
                format!(
                    "found {}, expected a mapping of top-level fields ({})",
                    kind_of(root),
                    one_of(TOP_FIELDS.iter().copied())
                ),
            );
            return;
        };
        for (k, v) in entries {
            let name = k.scalar_text().unwrap_or_default();
            let s = Src { file: fi, node: v };
            match name {
                "version" => self.version(s),
                "organisation" => {
                    if self.once("organisation", fi, k) {
                        self.intent.organisation = self.one(s);
                    }
                }
                "workflows" => {
                    if self.once("workflows", fi, k) {
                        self.intent.workflows = self.one(s);
                    }
                }
                "settings" => {
                    if self.once("settings", fi, k) {
                        self.src.settings = Some(s);
                        self.intent.settings = self.one(s);
                    }
                }
                "notifications" => {
                    if self.once("notifications", fi, k) {
                        self.src.notifications = Some(s);
                        self.intent.notifications = self.one(s);
                    }
                }
                "teams" => {
                    let mut v = std::mem::take(&mut self.intent.teams);
                    self.list(s, "teams", &mut v, |x| &mut x.teams);
                    self.intent.teams = v;
                }
                "services" => {
                    let mut v = std::mem::take(&mut self.intent.services);
                    self.list(s, "services", &mut v, |x| &mut x.services);
                    self.intent.services = v;
                }
                "objectives" => {
                    let mut v = std::mem::take(&mut self.intent.objectives);
                    self.list(s, "objectives", &mut v, |x| &mut x.objectives);
                    self.intent.objectives = v;
                }
                "guardrails" => {
                    let mut v = std::mem::take(&mut self.intent.guardrails);
                    self.list(s, "guardrails", &mut v, |x| &mut x.guardrails);
                    self.intent.guardrails = v;
                }
                "waivers" => {
                    let mut v = std::mem::take(&mut self.intent.waivers);
                    self.list(s, "waivers", &mut v, |x| &mut x.waivers);
                    self.intent.waivers = v;
                }
                "adaptation" => {
                    let mut v = std::mem::take(&mut self.intent.adaptation);
                    self.list(s, "adaptation", &mut v, |x| &mut x.adaptation);
                    self.intent.adaptation = v;
                }
                other => {
                    let mut m = format!("unknown top-level field `{other}`");
                    match suggest(other, TOP_FIELDS.iter().copied()) {
                        Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                        None => m.push_str(&format!(
                            "; expected {}",
                            one_of(TOP_FIELDS.iter().copied())
                        )),
                    }
                    self.out.error(fi, (k.line, k.col), m);
                }
            }
        }
    }

    /// Deserialises one value, reporting a failure.
    fn one<T: DeserializeOwned>(&mut self, s: Src<'a>) -> Option<T> {
        match from_node(s.node) {
            Ok(v) => Some(v),
            Err(e) => {
                self.out
                    .error(s.file, e.at.unwrap_or((s.node.line, s.node.col)), e.message);
                None
            }
        }
    }

    fn version(&mut self, s: Src<'a>) {
        let v = match &s.node.value {
            Value::Scalar(x) => match x.resolve() {
                yaml::Resolved::Int(i) => u32::try_from(i).ok(),
                _ => None,
            },
            _ => None,
        };
        let Some(v) = v else {
            let found = match &s.node.value {
                Value::Scalar(x) if x.style != yaml::Style::Plain => {
                    format!("the text `{}`", x.text)
                }
                Value::Scalar(x) => format!("`{}`", x.text),
                _ => kind_of(s.node).to_string(),
            };
            self.out.error(
                s.file,
                (s.node.line, s.node.col),
                format!("unsupported version: found {found}, expected the number 1 (`version: 1`)"),
            );
            self.src.bad_version = true;
            return;
        };
        if v != 1 {
            self.out.error(
                s.file,
                (s.node.line, s.node.col),
                format!("unsupported version `{v}`; expected `version: 1`"),
            );
        }
        match self.src.version {
            Some(first) if self.intent.version != v => {
                let at = self
                    .out
                    .place(first.file, (first.node.line, first.node.col));
                self.out.error(
                    s.file,
                    (s.node.line, s.node.col),
                    format!(
                        "`version: {v}` disagrees with `version: {}` at {at}; expected the same version in every file",
                        self.intent.version
                    ),
                );
            }
            Some(_) => {}
            None => {
                self.src.version = Some(s);
                self.intent.version = v;
            }
        }
    }

    /// Records where a set-once field is set; false (and an error) the second time.
    fn once(&mut self, name: &'static str, fi: usize, key: &'a Node) -> bool {
        let seen = self.out.seen.get(name).copied();
        if let Some((ffi, pos)) = seen {
            let at = self.out.place(ffi, pos);
            self.out.error(
                fi,
                (key.line, key.col),
                format!("`{name}` is already set at {at}; expected it in one file only"),
            );
            return false;
        }
        self.out.seen.insert(name, (fi, (key.line, key.col)));
        true
    }

    fn list<T: DeserializeOwned>(
        &mut self,
        s: Src<'a>,
        section: &'static str,
        into: &mut Vec<T>,
        nodes: impl for<'x> Fn(&'x mut Sources<'a>) -> &'x mut Vec<Src<'a>>,
    ) {
        let items: &'a [Node] = match &s.node.value {
            Value::Seq(items) => items,
            _ if s.node.is_null() => &[],
            _ => {
                self.out.error(
                    s.file,
                    (s.node.line, s.node.col),
                    format!(
                        "`{section}`: found {}, expected a list (items start with `- `)",
                        kind_of(s.node)
                    ),
                );
                return;
            }
        };
        for item in items {
            let is = Src {
                file: s.file,
                node: item,
            };
            match from_node::<T>(item) {
                Ok(v) => {
                    into.push(v);
                    nodes(&mut self.src).push(is);
                }
                Err(e) => {
                    for e in item_errors::<T>(section, item, e) {
                        let at = e.at.unwrap_or((item.line, item.col));
                        let mut message = e.message;
                        if at == (item.line, item.col) && message.starts_with("missing field") {
                            message.push_str(&format!(" in this {}", singular(section)));
                        }
                        self.out.error(s.file, at, message);
                    }
                    if let Some(id) = item.get("id").and_then(Node::scalar_text) {
                        self.src
                            .broken
                            .entry(section)
                            .or_default()
                            .push(id.to_string());
                    }
                }
            }
        }
    }
}

/// Every error in a list item that failed to deserialise, not only the first:
/// nested lists (`slos`, `key_results`) and sections are read one by one, and
/// the rest of the item with them emptied.
fn item_errors<T: DeserializeOwned>(section: &str, item: &Node, first: DeError) -> Vec<DeError> {
    use crate::model::{Build, Delivery, KeyResult, PlanChange, Scope, ServiceCost, Slo};
    type Check = fn(&Node, Option<&str>) -> Option<DeError>;
    fn each<X: DeserializeOwned>(n: &Node, key: Option<&str>) -> Option<DeError> {
        match key {
            Some(k) => from_value_of::<X>(n, k).err(),
            None => from_node::<X>(n).err(),
        }
    }
    let nested: &[(&str, bool, Check)] = match section {
        "services" => &[
            ("slos", true, each::<Slo>),
            ("cost", false, each::<ServiceCost>),
            ("build", false, each::<Build>),
            ("delivery", false, each::<Delivery>),
        ],
        "objectives" => &[("key_results", true, each::<KeyResult>)],
        "adaptation" => &[
            ("then", false, each::<PlanChange>),
            ("scope", false, each::<Scope>),
        ],
        _ => &[],
    };
    let Value::Map(entries) = &item.value else {
        return vec![first];
    };
    let mut errors = Vec::new();
    let mut rest = entries.clone();
    for (key, value) in rest.iter_mut() {
        let Some((_, is_list, check)) = nested
            .iter()
            .find(|(name, _, _)| key.scalar_text() == Some(name))
        else {
            continue;
        };
        match (&value.value, is_list) {
            (Value::Seq(items), true) => {
                errors.extend(items.iter().filter_map(|i| check(i, None)));
            }
            // Not a list: the item itself reports the wrong type.
            (_, true) => continue,
            _ => errors.extend(check(value, key.scalar_text())),
        }
        value.value = if *is_list {
            Value::Seq(Vec::new())
        } else {
            Value::Scalar(yaml::Scalar {
                text: String::new(),
                style: yaml::Style::Plain,
                forced_str: false,
            })
        };
    }
    let stripped = Node {
        value: Value::Map(rest),
        line: item.line,
        col: item.col,
    };
    errors.extend(from_node::<T>(&stripped).err());
    if errors.is_empty() {
        return vec![first];
    }
    errors.dedup();
    errors
}

fn singular(section: &str) -> &str {
    match section {
        "teams" => "team",
        "services" => "service",
        "objectives" => "objective",
        "guardrails" => "guardrail",
        "waivers" => "waiver",
        "adaptation" => "adaptation rule",
        other => other,
    }
}

fn kind_of(n: &Node) -> &'static str {
    match &n.value {
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
        Value::Scalar(_) if n.is_null() => "nothing",
        Value::Scalar(_) => "a single value",
    }
}

/// Diagnostics being collected, with the file list they index into.
pub(crate) struct Diags<'f> {
    files: &'f [PathBuf],
    list: Vec<(usize, Diagnostic)>,
    /// Set-once top-level fields: where each was first set.
    seen: HashMap<&'static str, (usize, (usize, usize))>,
}

impl<'f> Diags<'f> {
    fn new(files: &'f [PathBuf]) -> Self {
        Diags {
            files,
            list: Vec::new(),
            seen: HashMap::new(),
        }
    }

    fn push(
        &mut self,
        fi: usize,
        (line, column): (usize, usize),
        severity: Severity,
        message: String,
    ) {
        let file = self.files.get(fi).cloned().unwrap_or_default();
        self.list.push((
            fi,
            Diagnostic {
                file,
                line,
                column,
                severity,
                message,
            },
        ));
    }

    pub fn error(&mut self, fi: usize, pos: (usize, usize), message: String) {
        self.push(fi, pos, Severity::Error, message);
    }

    pub fn warning(&mut self, fi: usize, pos: (usize, usize), message: String) {
        self.push(fi, pos, Severity::Warning, message);
    }

    /// `FILE:LINE:COLUMN` for messages that name a second place.
    pub fn place(&self, fi: usize, (line, col): (usize, usize)) -> String {
        let file = self.files.get(fi).map(|f| f.display().to_string());
        format!("{}:{line}:{col}", file.unwrap_or_default())
    }

    fn has_errors_in(&self, fi: usize) -> bool {
        self.list.iter().any(|(f, _)| *f == fi)
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.list
            .sort_by(|(fa, a), (fb, b)| (fa, a.line, a.column).cmp(&(fb, b.line, b.column)));
        self.list.dedup_by(|(_, a), (_, b)| a == b);
        self.list.into_iter().map(|(_, d)| d).collect()
    }
}

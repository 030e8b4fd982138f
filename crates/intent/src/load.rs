//! Loading `bearing.yaml` (a file or a folder of YAML files) into one [`Intent`].
//!
//! PROVISIONAL: a minimal loader so other crates can build on the model; the
//! full loader with merging and located diagnostics replaces it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::Intent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in an intent file, with where it is.
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

/// Loads a file, or every `*.yaml`/`*.yml` file in a folder.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut loaded = load_str(path, &text)?;
    loaded.root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(loaded)
}

/// Parses and validates one document given its text.
pub fn load_str(file: &Path, text: &str) -> Result<Loaded, LoadError> {
    let intent: Intent = yaml_serde::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        LoadError::Invalid(vec![Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            severity: Severity::Error,
            message: e.to_string(),
        }])
    })?;
    Ok(Loaded {
        intent,
        warnings: Vec::new(),
        root: PathBuf::new(),
    })
}

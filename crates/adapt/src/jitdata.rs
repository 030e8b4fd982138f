//! Public just-in-time defect data: the ApacheJIT CSV (Keshavarz & Nagappan,
//! MSR 2022; `github.com/hosseinkshvrz/apachejit`, `dataset/*.csv`), read
//! where it lies for the bench (it carries no licence, so it is never copied
//! into this repository).
//!
//! Columns used: `commit_id`, `project`, `buggy` (`True`/`False`),
//! `author_date` (Unix seconds) and the change metrics `ns, nd, nf, ent, la,
//! ld, fix, ndev, age, nuc, aexp, arexp, asexp` (Kamei et al. 2013, without
//! `lt`, which ApacheJIT does not carry). Effort is `la + ld`.

use std::path::Path;

use crate::jit::Transform;

/// Feature names of an ApacheJIT change, in model order.
pub const FEATURES: [&str; 13] = [
    "ns", "nd", "nf", "ent", "la", "ld", "fix", "ndev", "age", "nuc", "aexp", "arexp", "asexp",
];

/// Transforms: `log1p` for counts, sizes and ages; identity for the entropy
/// (already logarithmic) and the fix flag.
pub const TRANSFORMS: [Transform; 13] = {
    use Transform::{Identity as I, Log1p as L};
    [L, L, L, I, L, L, I, L, L, L, L, L, L]
};

/// One labelled change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub commit: String,
    pub project: String,
    /// Author date, Unix seconds.
    pub time: i64,
    pub buggy: bool,
    /// In [`FEATURES`] order; an empty cell is missing.
    pub features: Vec<Option<f64>>,
    /// Lines added plus deleted.
    pub effort: f64,
}

/// Where a data file is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct DataError {
    pub file: String,
    /// 1-based line (the header is line 1); 0 when the file cannot be read.
    pub line: u64,
    pub field: String,
    pub message: String,
}

fn flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Reads an ApacheJIT CSV; every bad cell is reported with its line and column.
pub fn read_apachejit(path: &Path) -> Result<Vec<Change>, DataError> {
    let file = path.display().to_string();
    let err = |line: u64, field: &str, message: String| DataError {
        file: file.clone(),
        line,
        field: field.to_string(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(0, "-", e.to_string()))?;
    let headers = rdr
        .headers()
        .map_err(|e| err(1, "header", e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| err(1, name, "missing column".to_string()))
    };
    let (c_id, c_proj, c_bug, c_date) = (
        col("commit_id")?,
        col("project")?,
        col("buggy")?,
        col("author_date")?,
    );
    let c_feat: Vec<usize> = FEATURES.iter().map(|f| col(f)).collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(line, "-", e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |i: usize| rec.get(i).unwrap_or("");
        let buggy = flag(cell(c_bug)).ok_or_else(|| {
            err(
                line,
                "buggy",
                format!("`{}` is not True/False", cell(c_bug)),
            )
        })?;
        let time: i64 = cell(c_date).parse::<f64>().map(|t| t as i64).map_err(|_| {
            err(
                line,
                "author_date",
                format!("`{}` is not Unix seconds", cell(c_date)),
            )
        })?;
        let mut features = Vec::with_capacity(FEATURES.len());
        for (name, &i) in FEATURES.iter().zip(&c_feat) {
            let s = cell(i);
            let v = if s.is_empty() {
                None
            } else if *name == "fix" {
                Some(
                    if flag(s).ok_or_else(|| err(line, name, format!("`{s}` is not True/False")))? {
                        1.0
                    } else {
                        0.0
                    },
                )
            } else {
                let v: f64 = s
                    .parse()
                    .map_err(|_| err(line, name, format!("`{s}` is not a number")))?;
                if !v.is_finite() || v < 0.0 {
                    return Err(err(
                        line,
                        name,
                        format!("`{s}` is not a finite non-negative number"),
                    ));
                }
                Some(v)
            };
            features.push(v);
        }
        let effort = features[4].unwrap_or(0.0) + features[5].unwrap_or(0.0);
        out.push(Change {
            commit: cell(c_id).to_string(),
            project: cell(c_proj).to_string(),
            time,
            buggy,
            features,
            effort,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "commit_id,project,buggy,fix,year,author_date,la,ld,nf,nd,ns,ent,ndev,age,nuc,aexp,arexp,asexp\n";

    fn read(text: &str) -> Result<Vec<Change>, DataError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, text).unwrap();
        read_apachejit(&p)
    }

    #[test]
    fn reads_a_row_in_feature_order() {
        let rows = read(&format!(
            "{HEAD}abc,apache/kafka,True,False,2018,1500000000,10,2,3,2,1,1.5,4,7.5,9,100,50.5,\n"
        ))
        .unwrap();
        let c = &rows[0];
        assert_eq!(
            (c.project.as_str(), c.time, c.buggy),
            ("apache/kafka", 1_500_000_000, true)
        );
        // ns nd nf ent la ld fix ndev age nuc aexp arexp asexp
        let want = [
            1.0, 2.0, 3.0, 1.5, 10.0, 2.0, 0.0, 4.0, 7.5, 9.0, 100.0, 50.5,
        ];
        for (got, want) in c.features.iter().zip(want) {
            assert_eq!(*got, Some(want));
        }
        assert_eq!(c.features[12], None, "an empty cell is missing");
        assert_eq!(c.effort, 12.0);
    }

    #[test]
    fn says_where_a_cell_is_wrong() {
        let e = read(&format!(
            "{HEAD}a,p,False,False,2018,1,1,1,1,1,1,0,1,1,1,1,1,1\nb,p,False,False,2018,2,x,1,1,1,1,0,1,1,1,1,1,1\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "la"), "{e}");
        let e = read(&format!(
            "{HEAD}a,p,maybe,False,2018,1,1,1,1,1,1,0,1,1,1,1,1,1\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "buggy"), "{e}");
        let e = read("commit_id,project\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "buggy"), "{e}");
    }
}

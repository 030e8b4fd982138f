//! Running the built `bearing` binary in CLI tests, isolated from the
//! caller's `BEARING_*` environment.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `bearing ARGS` in `cwd`.
pub fn bearing(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearing"))
        .args(args)
        .current_dir(cwd)
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_SERVER")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

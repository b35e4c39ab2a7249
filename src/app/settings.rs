//! The settings vocabulary every mode speaks: where output goes and where sockets are read from.

use std::path::PathBuf;

use crate::diag::SourceChoice;

/// Where the timeline goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// Appended to; created if missing.
    File(PathBuf),
}

impl Target {
    /// How error messages name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Stdout => "standard output".to_string(),
            Target::File(p) => format!("output file '{}'", p.display()),
        }
    }
}

/// Where sockets (and, for a saved tree, the pool) are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub choice: SourceChoice,
    /// `--proc-root DIR`: the pool sysctls come from DIR too.
    pub proc_root: Option<PathBuf>,
}

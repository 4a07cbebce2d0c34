//! What loading the configuration reports: a refusal ([`ConfigError`]) or a warning
//! ([`ConfigWarning`]), each one line that names the key and the fix.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of problem a [`ConfigError`] reports, for callers that branch on it (exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ConfigErrorKind {
    /// The file could not be read.
    File,
    /// The file is not valid TOML.
    Syntax,
    /// A key (in the file or from an `FHS_` variable) that does not exist.
    UnknownKey,
    /// A value of the wrong type, or a duration that does not parse.
    WrongType,
    /// A required key is not set.
    Missing,
    /// A value of the right type that cannot work.
    Invalid,
    /// Timings that contradict each other or the failover budget.
    Timing,
}

/// Why the configuration was refused. Displays as one line: the key (or file), and after a colon
/// what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    key: String,
    env_var: Option<String>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { kind, key: key.into(), env_var: None, message: one_line(&message.into()) }
    }

    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ConfigErrorKind::Invalid, key, message)
    }

    pub(crate) fn timing(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ConfigErrorKind::Timing, key, message)
    }

    /// A value that is none of the `accepted` ones, which are compared exactly (lowercase):
    /// `"Cold" is not a standby mode; set it to exactly "cold" or "parked"`.
    pub(crate) fn not_one_of(key: impl Into<String>, value: &str, what: &str, accepted: &[&str]) -> Self {
        let quoted: Vec<String> = accepted.iter().map(|a| format!("{a:?}")).collect();
        let list = match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        Self::invalid(key, format!("{value:?} is not a {what}; set it to exactly {list} (lowercase)"))
    }

    /// What kind of problem this is.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The dotted key (`zookeeper.quorum`) the error is about, or the file's path.
    #[cfg(test)]
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The environment variable the offending value came from, if it came from one.
    #[cfg(test)]
    pub(crate) fn env_var(&self) -> Option<&str> {
        self.env_var.as_deref()
    }

    /// Names the variable that set the key, when one did.
    pub(super) fn with_env_origin(mut self, origins: &BTreeMap<String, String>) -> Self {
        if self.env_var.is_none() {
            self.env_var = origins.get(&self.key).cloned();
        }
        self
    }
}

impl ConfigError {
    /// Names `var` as the origin of the offending value.
    pub(super) fn with_env_var(mut self, var: Option<String>) -> Self {
        self.env_var = var;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.env_var {
            Some(var) => write!(f, "{} (set by {}): {}", self.key, var, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A setting that works but probably not as intended. Returned by [`Settings::load`](super::Settings::load) and
/// [`Settings::validate`](super::Settings::validate) for the caller to log; displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigWarning {
    /// The dotted key the warning is about.
    pub key: String,
    /// What may go wrong and what to change.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collapses whitespace, newlines included, so that every message is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

//! The refusal of an unknown key, with the known key it was probably meant to be.

use std::collections::BTreeMap;

use super::env::env_var_name;
use super::error::{ConfigError, ConfigErrorKind};
use super::schema::{known_keys, SCHEMA};

/// The refusal of `full`, an unknown key or section, with `known` listing what exists.
pub(super) fn unknown_key(full: &str, origins: &BTreeMap<String, String>, known: String) -> ConfigError {
    let var = origins.iter().find(|(k, _)| *k == full || k.starts_with(&format!("{full}."))).map(|(_, v)| v.clone());
    let hint = match suggest(full) {
        Some(close) if var.is_some() => format!(" (did you mean `{close}`, set by {}?)", env_var_name(&close)),
        Some(close) => format!(" (did you mean `{close}`?)"),
        None => String::new(),
    };
    ConfigError::new(ConfigErrorKind::UnknownKey, full, format!("unknown key `{full}`{hint}; {known}"))
        .with_env_var(var)
}

/// The known key closest to a misspelt one, if it is close enough to be a typo.
fn suggest(unknown: &str) -> Option<String> {
    // `zookeeper_quorum` is what FHS_ZOOKEEPER_QUORUM (one underscore) produces.
    let norm = |s: &str| s.replace('.', "_");
    let wanted = norm(unknown);
    let sections = SCHEMA.iter().map(|(section, _)| section.to_string());
    known_keys()
        .into_iter()
        .chain(sections)
        .map(|k| (strsim::levenshtein(&norm(&k), &wanted), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

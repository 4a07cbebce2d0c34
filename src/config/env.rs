//! The environment layer: `FHS_<SECTION>__<KEY>` variables and `FLINK_HOME`, split the way the
//! `config` crate cannot do on its own.

use std::collections::BTreeMap;

use super::error::{ConfigError, ConfigErrorKind};
use super::schema::LIST_KEYS;

/// Prefix of the environment variables that override the file (`FHS_NODE__ID=jm2`).
pub(crate) const ENV_PREFIX: &str = "FHS";

/// Separator between nesting levels in those variables: `FHS_<SECTION>__<KEY>`.
pub(crate) const ENV_SEPARATOR: &str = "__";

/// The variable the default `jobmanager.command` is built from.
pub(crate) const FLINK_HOME_VAR: &str = "FLINK_HOME";

/// The environment variable that sets a dotted key: `zookeeper.session_timeout` ->
/// `FHS_ZOOKEEPER__SESSION_TIMEOUT`.
pub(crate) fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.to_uppercase().replace('.', ENV_SEPARATOR))
}

/// The `FHS_` part of an environment, split the way the `config` crate cannot do on its own.
pub(super) struct EnvLayer {
    /// Variables handed to `config::Environment` as they are.
    pub(super) plain: config::Map<String, String>,
    /// `FHS_JOBMANAGER__COMMAND` and the other [`LIST_KEYS`], split on whitespace.
    pub(super) lists: Vec<(String, Vec<String>)>,
    /// `FHS_JOBMANAGER__ENV__<NAME>` entries, with the case of NAME kept.
    pub(super) jobmanager_env: Vec<(String, String)>,
    /// `FLINK_HOME`, when set and not empty.
    pub(super) flink_home: Option<String>,
    /// Dotted key -> the variable that set it, for error messages.
    pub(super) origins: BTreeMap<String, String>,
}

impl EnvLayer {
    /// Splits the process environment `env` into the layer.
    pub(super) fn split(env: impl IntoIterator<Item = (String, String)>) -> Result<EnvLayer, ConfigError> {
        let mut layer = EnvLayer {
            plain: config::Map::new(),
            lists: Vec::new(),
            jobmanager_env: Vec::new(),
            flink_home: None,
            origins: BTreeMap::new(),
        };
        for (name, value) in env {
            if name == FLINK_HOME_VAR {
                layer.flink_home = Some(value).filter(|v| !v.is_empty());
                continue;
            }
            // The config crate matches the prefix ignoring case; so do we.
            let Some(rest) = strip_prefix_ignore_case(&name, "FHS_") else {
                continue;
            };
            // An empty variable counts as unset, as systemd's `Environment=X=` intends.
            if value.is_empty() {
                continue;
            }
            // The same transformation config::Environment applies.
            let key = rest.to_lowercase().replace(ENV_SEPARATOR, ".");
            if LIST_KEYS.contains(&key.as_str()) {
                layer.lists.push((key.clone(), value.split_whitespace().map(str::to_string).collect()));
            } else if let Some(var) = strip_prefix_ignore_case(rest, "JOBMANAGER__ENV__") {
                // config::Environment lowercases the whole name, which would turn JAVA_HOME into
                // java_home; these are set directly instead.
                let valid = !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(ConfigError::new(
                        ConfigErrorKind::Invalid,
                        format!("jobmanager.env.{var}"),
                        "only ASCII letters, digits, '_' and '-' can follow FHS_JOBMANAGER__ENV__; set this variable in [jobmanager.env] in the file instead",
                    )
                    .with_env_var(Some(name)));
                }
                layer.origins.insert(format!("jobmanager.env.{var}"), name.clone());
                layer.jobmanager_env.push((var.to_string(), value));
                continue;
            } else {
                layer.plain.insert(name.clone(), value);
            }
            layer.origins.insert(key, name);
        }
        Ok(layer)
    }
}

/// `s` without `prefix`, which is matched ignoring ASCII case (as the `config` crate does).
pub(super) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

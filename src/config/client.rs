//! The settings of the client commands (`status`, `pause`, `resume`, `handover`): where the
//! election is and how to reach ZooKeeper, nothing else. They come from an optional file (its
//! `[zookeeper]`, `[election]`, `[http]` and `flink.jobmanager_count`; the other sections are
//! neither required nor validated, so no `FLINK_HOME` or `jobmanager.command` is needed), the
//! `FHS_` environment, and the command line's flags, which win. Every value gets the checks and
//! the one-line errors of its key; a value from a flag is named by the flag
//! (`zookeeper.quorum (set by --quorum): ...`).

use std::path::Path;

use config::{Value, ValueKind};
use serde::Deserialize;

use super::env::{strip_prefix_ignore_case, EnvLayer, ENV_PREFIX, ENV_SEPARATOR};
use super::error::{ConfigError, ConfigErrorKind};
use super::flink_ha::MIN_JOBMANAGERS;
use super::load::{from_config_error, read_regular_file};
use super::schema::{check_tree, DEFAULTS};
use super::secret::load_credentials;
use super::validate::{check_target, validate_auth};
use super::{ElectionSettings, HttpSettings, ZooKeeperSettings};

/// The sections a client command reads; `[flink]` only for `jobmanager_count`.
const CLIENT_SECTIONS: &[&str] = &["zookeeper", "election", "http"];

/// Sections of the daemon's file that a client command ignores.
const DAEMON_SECTIONS: &[&str] = &["node", "jobmanager", "failover", "log", "hooks"];

/// What a client command needs, validated.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `[zookeeper]`, with the credentials read.
    pub zookeeper: ZooKeeperSettings,
    /// `[election]`.
    pub election: ElectionSettings,
    /// `[http]` of the daemon on this host, when a file was given (the local `/status`).
    pub http: Option<HttpSettings>,
    /// `flink.jobmanager_count`, the JobManager hosts `status` expects. Default 2.
    pub jobmanager_count: u32,
}

/// One setting from the command line: the key it sets, its value and the flag that set it.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The dotted key, e.g. `zookeeper.quorum`.
    pub key: &'static str,
    /// The value as given (booleans as `true`).
    pub value: FlagValue,
    /// The flag, e.g. `--quorum`, for messages.
    pub flag: &'static str,
}

/// A flag's value.
#[derive(Debug, Clone)]
pub enum FlagValue {
    /// A string, as a string key of the file takes it.
    Text(String),
    /// A switch that is on.
    On,
}

/// The whole of what a client command deserializes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    zookeeper: ZooKeeperSettings,
    election: ElectionSettings,
    #[serde(default)]
    http: HttpSettings,
    #[serde(default)]
    flink: ClientFlink,
}

/// The one key of `[flink]` a client command reads.
#[derive(Deserialize)]
struct ClientFlink {
    #[serde(default = "min_jobmanagers")]
    jobmanager_count: u32,
}

impl Default for ClientFlink {
    fn default() -> Self {
        ClientFlink { jobmanager_count: MIN_JOBMANAGERS }
    }
}

fn min_jobmanagers() -> u32 {
    MIN_JOBMANAGERS
}

impl ClientSettings {
    /// Reads `file` (if any), the `FHS_` environment and `flags`, in that order of precedence
    /// from low to high; validates what a client command uses and reads the credentials.
    pub(crate) fn load(file: Option<&Path>, flags: &[Flag]) -> Result<ClientSettings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_with_env(file, flags, env)
    }

    /// Same, with an explicit environment standing for the process's.
    pub fn load_with_env(
        file: Option<&Path>,
        flags: &[Flag],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ClientSettings, ConfigError> {
        let process_env: Vec<(String, String)> = env.into_iter().collect();
        let ours = process_env.iter().filter(|(name, _)| strip_prefix_ignore_case(name, "FHS_").is_some()).cloned();
        let env = EnvLayer::split(ours)?;
        let mut origins = env.origins.clone();
        for flag in flags {
            origins.insert(flag.key.to_string(), flag.flag.to_string());
        }
        let file_key = file.map_or_else(|| "(command line)".to_string(), |p| p.display().to_string());
        let internal = |e: config::ConfigError| {
            ConfigError::invalid(&file_key, format!("internal error building the defaults: {e}"))
        };
        let mut builder = config::Config::builder();
        for (key, value) in DEFAULTS {
            if CLIENT_SECTIONS.iter().any(|section| key.starts_with(&format!("{section}."))) {
                builder = builder.set_default(*key, *value).map_err(internal)?;
            }
        }
        if let Some(path) = file {
            let text = read_regular_file(path).map_err(|e| {
                ConfigError::new(
                    ConfigErrorKind::File,
                    &file_key,
                    format!("cannot read the configuration file: {e}; pass a readable TOML file with --config, or leave --config out and pass --quorum"),
                )
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator(ENV_SEPARATOR)
                .source(Some(env.plain.clone())),
        );
        for flag in flags {
            builder = match &flag.value {
                FlagValue::Text(text) => builder.set_override(flag.key, text.as_str()),
                FlagValue::On => builder.set_override(flag.key, true),
            }
            .map_err(internal)?;
        }
        let built = builder.build().map_err(|e| from_config_error(e, &file_key, &origins))?;
        let tree = client_tree(built.cache);
        check_tree(&tree, &origins)?;
        if super::schema::lookup(&tree, "zookeeper.quorum").is_none() {
            let message = match file {
                Some(_) => "required but not set; set it under [zookeeper], in FHS_ZOOKEEPER__QUORUM or with --quorum host:port[,host:port...][/chroot]",
                None => "required but not set: without --config pass --quorum host:port[,host:port...][/chroot] (and --path if the election is not at /flink/leader)",
            };
            return Err(ConfigError::new(ConfigErrorKind::Missing, "zookeeper.quorum", message));
        }
        let read: ClientFile = tree.try_deserialize().map_err(|e| from_config_error(e, &file_key, &origins))?;
        let mut settings = ClientSettings {
            zookeeper: read.zookeeper,
            election: read.election,
            http: file.map(|_| read.http),
            jobmanager_count: read.flink.jobmanager_count,
        };
        settings.validate().map_err(|e| e.with_env_origin(&origins))?;
        settings.zookeeper.credentials =
            load_credentials(&settings.zookeeper, &process_env).map_err(|e| e.with_env_origin(&origins))?;
        Ok(settings)
    }

    /// The checks of every key a client command uses, as the daemon makes them.
    fn validate(&self) -> Result<(), ConfigError> {
        check_target(&self.zookeeper, &self.election)?;
        let zk = &self.zookeeper;
        for (key, value, default) in [
            ("zookeeper.session_timeout", zk.session_timeout, "10s"),
            ("zookeeper.connect_timeout", zk.connect_timeout, "3s"),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be longer than zero; set a duration such as \"{default}\" (the default)"),
                ));
            }
        }
        if let Some(http) = &self.http {
            http.listen_addr().map_err(|problem| {
                ConfigError::invalid(
                    "http.listen",
                    format!("{problem}; set it to ip:port, e.g. \"127.0.0.1:9249\", or \"\" to turn the endpoint off"),
                )
            })?;
        }
        validate_auth(zk, &self.election.path, None)?;
        Ok(())
    }
}

/// The merged tree with the daemon's own sections removed, and of `[flink]` only
/// `jobmanager_count`; unknown sections stay, for the schema check to name.
fn client_tree(root: Value) -> Value {
    let origin = root.origin().map(str::to_string);
    let ValueKind::Table(mut table) = root.kind else { return root };
    for section in DAEMON_SECTIONS {
        table.remove(*section);
    }
    if let Some(flink) = table.remove("flink") {
        let origin = flink.origin().map(str::to_string);
        let kept = match flink.kind {
            ValueKind::Table(mut keys) => {
                let mut kept = config::Map::new();
                if let Some(count) = keys.remove("jobmanager_count") {
                    kept.insert("jobmanager_count".to_string(), count);
                }
                ValueKind::Table(kept)
            }
            other => other,
        };
        table.insert("flink".to_string(), Value::new(origin.as_ref(), kept));
    }
    Value::new(origin.as_ref(), ValueKind::Table(table))
}

//! Reading the configuration: the file, the environment and the defaults merged by the `config`
//! crate, checked against the schema, deserialized and validated.

use std::collections::BTreeMap;
use std::path::Path;

use config::Value;

use super::env::{strip_prefix_ignore_case, EnvLayer, ENV_PREFIX, ENV_SEPARATOR, FLINK_HOME_VAR};
use super::error::{ConfigError, ConfigErrorKind, ConfigWarning};
use super::flink_ha::FLINK_HOME_BASE_CONFIG;
use super::schema::{check_tree, lookup, COUNT_DEFAULTS, DEFAULTS};
use super::secret::load_credentials;
use super::{env_var_name, Settings, DEFAULT_RPC_PORT};

/// Whether loading reads the daemons' own ZooKeeper secrets: the files and the variable of
/// `zookeeper.password_file`/`password_env` and the TLS files of `zookeeper.tls_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DaemonSecrets {
    /// Read and check them (`run`, `check-config`, the commands that connect to ZooKeeper): a
    /// missing or unprotected file is refused at load.
    Read,
    /// Leave them unread: `Settings::zookeeper.credentials` stays empty. For commands that only
    /// print what the settings say (`render-flink-config`), so that a TaskManager host renders
    /// its Flink configuration without holding the daemons' identity.
    Skip,
}

impl Settings {
    /// Reads FILE plus the FHS_ environment, applies defaults, validates. Warnings are returned, not logged.
    pub(crate) fn load(path: &Path) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        Self::load_as(path, DaemonSecrets::Read)
    }

    /// [`Settings::load`], reading the daemons' secrets or not.
    pub(crate) fn load_as(path: &Path, secrets: DaemonSecrets) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        let mut env = Vec::new();
        for (name, value) in std::env::vars_os() {
            // Variables that are not ours may hold anything; only ours must be UTF-8.
            let Ok(name) = name.into_string() else {
                continue;
            };
            let ours = name == FLINK_HOME_VAR || strip_prefix_ignore_case(&name, "FHS_").is_some();
            match value.into_string() {
                Ok(value) => env.push((name, value)),
                Err(_) if ours => {
                    return Err(ConfigError::new(
                        ConfigErrorKind::WrongType,
                        name,
                        "the value is not valid UTF-8; set it to UTF-8 text",
                    ))
                }
                Err(_) => {}
            }
        }
        Self::load_with_env_as(path, env, secrets)
    }

    /// Same, but with an explicit environment (for tests; no process env mutation in tests).
    ///
    /// `env` stands for the whole process environment: `FHS_` variables and `FLINK_HOME` are
    /// taken from it, everything else is ignored.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        Self::load_with_env_as(path, env, DaemonSecrets::Read)
    }

    /// [`Settings::load_with_env`], reading the daemons' secrets or not.
    pub(crate) fn load_with_env_as(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
        secrets: DaemonSecrets,
    ) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        let file_key = path.display().to_string();
        let text = read_regular_file(path).map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::File,
                &file_key,
                format!("cannot read the configuration file: {e}; pass a readable TOML file with --config (config/flink-ha-supervisor.toml is an example)"),
            )
        })?;
        let env: Vec<(String, String)> = env.into_iter().collect();
        let process_env = env.clone();
        let env = EnvLayer::split(env)?;
        let hostname = hostname();

        let internal = |e: config::ConfigError| {
            ConfigError::invalid(&file_key, format!("internal error building the defaults: {e}"))
        };
        let mut builder = config::Config::builder();
        for (key, value) in DEFAULTS {
            builder = builder.set_default(*key, *value).map_err(internal)?;
        }
        for (key, value) in COUNT_DEFAULTS {
            builder = builder.set_default(*key, *value).map_err(internal)?;
        }
        if let Ok(host) = &hostname {
            builder = builder
                .set_default("node.id", host.as_str())
                .map_err(internal)?
                .set_default("jobmanager.rpc_address", format!("{host}:{DEFAULT_RPC_PORT}"))
                .map_err(internal)?;
        }
        if let Some(home) = &env.flink_home {
            let script = Path::new(home).join("bin").join("jobmanager.sh");
            let command = vec![script.display().to_string(), "start-foreground".to_string()];
            builder = builder.set_default("jobmanager.command", command).map_err(internal)?;
            let base = Path::new(home).join(FLINK_HOME_BASE_CONFIG).display().to_string();
            builder = builder.set_default("flink.base_config", base).map_err(internal)?;
        }
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml)).add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                // Without this the prefix separator defaults to the nesting separator,
                // and only FHS__NODE__ID would match.
                .prefix_separator("_")
                .separator(ENV_SEPARATOR)
                .source(Some(env.plain.clone())),
        );
        for (key, list) in &env.lists {
            builder = builder.set_override(key.as_str(), list.clone()).map_err(internal)?;
        }
        for (name, value) in &env.jobmanager_env {
            builder = builder.set_override(format!("jobmanager.env.{name}"), value.as_str()).map_err(internal)?;
        }

        let built = builder.build().map_err(|e| from_config_error(e, &file_key, &env.origins))?;
        check_tree(&built.cache, &env.origins)?;
        check_required(&built.cache, &env, &hostname)?;
        let mut settings: Settings =
            built.try_deserialize().map_err(|e| from_config_error(e, &file_key, &env.origins))?;
        let warnings = settings.validate().map_err(|e| e.with_env_origin(&env.origins))?;
        if secrets == DaemonSecrets::Read {
            settings.zookeeper.credentials =
                load_credentials(&settings.zookeeper, &process_env).map_err(|e| e.with_env_origin(&env.origins))?;
        }
        Ok((settings, warnings))
    }
}

/// Reads a regular file. Anything else is refused without waiting: a FIFO or a device could block
/// the read forever (the open does not wait either: `O_NONBLOCK`, which regular files ignore).
pub(super) fn read_regular_file(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_regular_bytes(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// The bytes of the regular file at `path`; anything else (a directory, a FIFO, a device) is
/// refused without blocking on it.
pub(super) fn read_regular_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(std::io::Error::other(format!("it is {what}, not a regular file")));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The host name, the default of `node.id` and of `jobmanager.rpc_address`'s host.
fn hostname() -> Result<String, String> {
    let name = crate::host::lookup()?;
    if name.is_empty() {
        return Err("the host name is empty".into());
    }
    Ok(name)
}

/// Required keys, checked before serde so that the message says how to set them.
fn check_required(root: &Value, env: &EnvLayer, hostname: &Result<String, String>) -> Result<(), ConfigError> {
    let missing = |key: &str, message: String| Err(ConfigError::new(ConfigErrorKind::Missing, key, message));
    if lookup(root, "zookeeper.quorum").is_none() {
        return missing(
            "zookeeper.quorum",
            "required but not set; set it to host:port[,host:port...][/chroot] under [zookeeper] or in FHS_ZOOKEEPER__QUORUM".into(),
        );
    }
    if lookup(root, "jobmanager.command").is_none() {
        // The default only exists when FLINK_HOME is set.
        debug_assert!(env.flink_home.is_none());
        return missing(
            "jobmanager.command",
            "not set and FLINK_HOME is unset, so there is no default; set jobmanager.command (or FHS_JOBMANAGER__COMMAND) or export FLINK_HOME".into(),
        );
    }
    for key in ["node.id", "jobmanager.rpc_address"] {
        if lookup(root, key).is_none() {
            let why = hostname.as_ref().err().cloned().unwrap_or_default();
            return missing(
                key,
                format!(
                    "not set and the host name could not be read for the default ({why}); set {key} (or {})",
                    env_var_name(key)
                ),
            );
        }
    }
    Ok(())
}

/// Turns what the config crate reports into one of our one-line errors.
pub(super) fn from_config_error(
    error: config::ConfigError,
    file: &str,
    origins: &BTreeMap<String, String>,
) -> ConfigError {
    match error {
        config::ConfigError::FileParse { cause, .. } => ConfigError::new(
            ConfigErrorKind::Syntax,
            file,
            format!("{}; fix the TOML syntax", toml_error_line(&cause.to_string())),
        ),
        config::ConfigError::NotFound(key) => {
            ConfigError::new(ConfigErrorKind::Missing, &key, "required but not set; see docs/configuration.md")
                .with_env_origin(origins)
        }
        config::ConfigError::At { error, key: Some(key), .. } => ConfigError::new(
            ConfigErrorKind::WrongType,
            &key,
            format!("{error}; see docs/configuration.md for the expected form"),
        )
        .with_env_origin(origins),
        config::ConfigError::Type { unexpected, expected, key: Some(key), .. } => ConfigError::new(
            ConfigErrorKind::WrongType,
            &key,
            format!("expected {expected}, found {unexpected}; see docs/configuration.md"),
        )
        .with_env_origin(origins),
        other => ConfigError::new(ConfigErrorKind::WrongType, file, format!("{other}; see docs/configuration.md")),
    }
}

/// The toml crate's errors span several lines (a source excerpt with a caret); keep the
/// position and the explanation.
fn toml_error_line(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let position =
        lines.first().copied().unwrap_or("TOML syntax error").replace("TOML parse error", "TOML syntax error");
    let caret = lines.iter().rposition(|l| l.contains('^'));
    let explanation: Vec<&str> = match caret {
        Some(i) => lines[i + 1..].iter().copied().filter(|l| !l.is_empty()).collect(),
        None => lines.iter().skip(1).copied().filter(|l| !l.is_empty()).collect(),
    };
    if explanation.is_empty() {
        position
    } else {
        format!("{position}: {}", explanation.join(" "))
    }
}

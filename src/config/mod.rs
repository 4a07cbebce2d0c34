//! Configuration of `flink-ha-supervisor run --config FILE`.
//!
//! Settings come from three layers, later ones winning: built-in defaults, the TOML file, and
//! `FHS_`-prefixed environment variables whose `__` separates the section from the key
//! (`FHS_ZOOKEEPER__SESSION_TIMEOUT=4s`). [`Settings::load`] reads all three, rejects unknown
//! keys and badly typed values, applies the defaults and runs [`Settings::validate`], so that
//! nothing starts with settings that cannot work. Every [`ConfigError`] is one line that names
//! the key (or the file) and says how to fix it.
//!
//! docs/configuration.md is the reference for every key, its default and each validation rule.
//!
//! # Layout
//!
//! * `sections`: the sections' types, one struct per `[section]`, with their defaults.
//! * [`flink_ha`]: the `[flink]` section, its defaults and its rules, resolved into the
//!   effective [`HaConfig`] that `crate::flink` renders.
//! * `schema`: every key with the type it expects, checked before serde for messages that name
//!   the full key; a test keeps it equal to the structs.
//! * `secret`: the ZooKeeper credentials (`password_*`, `tls_*`) read at load, and [`Secret`],
//!   which never prints.
//! * `client`: what the client commands (`status`, `pause`, `resume`, `handover`) read, from
//!   an optional file and the command line ([`ClientSettings::load`]).
//! * `env`: the `FHS_` environment layer.
//! * `suggest`: "did you mean" for misspelt keys.
//! * `load`: reading the file and merging the layers ([`Settings::load`]).
//! * `values`: checks and parsers of single values (durations, `host:port`, quorums, paths, URLs).
//! * `validate`: every value on its own, then the timings against each other.
//! * `host`: what only the host that runs the daemon can tell ([`Settings::check_host`]).
//! * `error`: [`ConfigError`] and [`ConfigWarning`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod client;
mod env;
mod error;
pub(crate) mod flink_ha;
mod host;
pub(crate) mod keytab;
mod load;
mod schema;
mod secret;
mod sections;
mod suggest;
#[cfg(test)]
pub(crate) mod test_support;
mod validate;
mod values;

pub use client::{ClientSettings, Flag, FlagValue};
pub(crate) use env::env_var_name;
pub(crate) use error::ConfigErrorKind;
pub use error::{ConfigError, ConfigWarning};
pub use flink_ha::FlinkSettings;
pub(crate) use flink_ha::{HaConfig, HaMode};
pub(crate) use load::DaemonSecrets;
pub(crate) use schema::known_keys;
pub use secret::{Credentials, Secret, TlsMaterial};
pub(crate) use sections::AuthMode;
pub use sections::{
    ElectionSettings, FailoverSettings, HookSettings, HttpSettings, JobManagerSettings, LogSettings, NodeSettings,
    ZooKeeperSettings,
};
pub(crate) use values::{chroot_of, parse_command_line_duration};

/// The longest `node.id`, in bytes (a DNS name's limit).
pub(crate) const MAX_NODE_ID_BYTES: usize = 253;

/// Port of the default `jobmanager.rpc_address` (Flink's `jobmanager.rpc.port` default).
pub(crate) const DEFAULT_RPC_PORT: u16 = 6123;

/// True when `command` is Flink's own `…/jobmanager.sh start-foreground [args]`: the form whose
/// JobManager reads the rendered configuration (and so waits at a parked JobManager's gate) and
/// whose JVM command line the direct launch can resolve.
pub(crate) fn is_flink_start_command(command: &[String]) -> bool {
    command.first().is_some_and(|c| std::path::Path::new(c).file_name().is_some_and(|n| n == "jobmanager.sh"))
        && command.get(1).map(String::as_str) == Some("start-foreground")
}

/// Session timeouts a ZooKeeper server with `tickTime` `tick` grants unless `minSessionTimeout`
/// and `maxSessionTimeout` say otherwise: 2 to 20 ticks. Outside this range the server clamps
/// the requested value.
pub(crate) fn server_session_range(tick: Duration) -> (Duration, Duration) {
    (tick * 2, tick * 20)
}

/// The default `http.listen`: loopback only, so nothing is exposed unless asked for.
pub(crate) const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9249";

/// The default `jobmanager.gate_jar`: where the packages and the images put the gate jar.
pub(crate) const DEFAULT_GATE_JAR: &str = "/usr/share/flink-ha-supervisor/flink-ha-gate.jar";

/// The complete, validated configuration of one supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[node]`: who this supervisor is.
    pub node: NodeSettings,
    /// `[zookeeper]`: where the election happens and how long a session lives.
    pub zookeeper: ZooKeeperSettings,
    /// `[election]`: the election's place in ZooKeeper.
    pub election: ElectionSettings,
    /// `[jobmanager]`: how to run, watch and restart the Flink JobManager.
    pub jobmanager: JobManagerSettings,
    /// `[failover]`: the promise the timings are checked against.
    pub failover: FailoverSettings,
    /// `[log]`: where audit records go besides stdout. Optional as a whole.
    #[serde(default)]
    pub log: LogSettings,
    /// `[http]`: the node's HTTP endpoint (`crate::outward::http`). Optional as a whole.
    #[serde(default)]
    pub http: HttpSettings,
    /// `[flink]`: Flink's own HA configuration, rendered before each JobManager start
    /// (`crate::flink`). Optional as a whole; off by default.
    #[serde(default)]
    pub flink: FlinkSettings,
    /// `[hooks]`: commands run when this node becomes leader or stops being one
    /// (`crate::outward::hooks`). Optional as a whole.
    #[serde(default)]
    pub hooks: HookSettings,
}

impl Settings {
    /// Checks that the settings can work: every value on its own, then the timings against each
    /// other. Returns the first error, or the warnings about settings that work but are risky.
    pub(crate) fn validate(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        self.validate_values()?;
        let mut warnings = self.validate_timing()?;
        // `[flink]` against the rest; its effective form is for the callers that render it.
        let (ha, flink_warnings) = HaConfig::resolve(self)?;
        warnings.extend(flink_warnings);
        self.validate_standby(ha.as_ref())?;
        warnings.extend(self.validate_auth(ha.as_ref())?);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests;

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

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Value, ValueKind};
use serde::{Deserialize, Serialize};

use crate::flink::model::{FlinkSettings, FLINK_HOME_BASE_CONFIG};
use flink_ha_core::timing;

/// Prefix of the environment variables that override the file (`FHS_NODE__ID=jm2`).
pub const ENV_PREFIX: &str = "FHS";

/// Separator between nesting levels in those variables: `FHS_<SECTION>__<KEY>`.
pub const ENV_SEPARATOR: &str = "__";

/// The longest `node.id`, in bytes (a DNS name's limit).
pub const MAX_NODE_ID_BYTES: usize = 253;

/// The variable the default `jobmanager.command` is built from.
pub const FLINK_HOME_VAR: &str = "FLINK_HOME";

/// Port of the default `jobmanager.rpc_address` (Flink's `jobmanager.rpc.port` default).
pub const DEFAULT_RPC_PORT: u16 = 6123;

/// Session timeouts a ZooKeeper server with default settings grants: 2 to 20 times its
/// default `tickTime` of 2000 ms. Outside this range the server clamps the requested value.
pub const DEFAULT_SERVER_SESSION_RANGE: (Duration, Duration) = (Duration::from_secs(4), Duration::from_secs(40));

/// The default `http.listen`: loopback only, so nothing is exposed unless asked for.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9249";

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

/// `[node]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Name of this supervisor, unique among the supervisors of one election. It is written into
    /// the election node and the logs, so it may not contain '/' or whitespace.
    /// Default: the host name.
    pub id: String,
}

/// `[zookeeper]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooKeeperSettings {
    /// Connect string: `host:port[,host:port...][/chroot]`. Required.
    pub quorum: String,
    /// Session timeout requested from the server. A crashed leader is noticed only when its
    /// session expires, so this bounds failover after a crash from below; the fencing timings
    /// (`flink_ha_core::timing`) are derived from it. Default 10s.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// How long one attempt to connect (and establish the session) may take. Must be shorter
    /// than the session timeout. Default 3s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
}

/// `[election]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionSettings {
    /// Parent of the ephemeral sequential election nodes (below the quorum's chroot, if any).
    /// Default "/flink/leader".
    pub path: String,
}

/// `[jobmanager]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobManagerSettings {
    /// Program and arguments of the JobManager; it must stay in the foreground. Default
    /// `$FLINK_HOME/bin/jobmanager.sh start-foreground`, resolved when the configuration is loaded.
    pub command: Vec<String>,
    /// Extra environment variables for the JobManager (added to the supervisor's own).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory of the JobManager; the supervisor's own when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
    /// URL whose HTTP 200 means the JobManager is ready (and later: still healthy).
    /// Plain `http://host:port/path`. Default "http://127.0.0.1:8081/overview".
    pub ready_url: String,
    /// `host:port` advertised in this node's election node, so that others can find the leader.
    /// Default "<hostname>:6123".
    pub rpc_address: String,
    /// File that receives the JobManager's stdout and stderr (appended). When unset they are
    /// forwarded into the supervisor's own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// A JVM class-data-sharing archive of the JobManager (made by `make-cds-archive`): when the
    /// file exists, the JobManager is started with `-XX:SharedArchiveFile=<path>` in `JVM_ARGS`,
    /// which cuts its cold start. Unset: no archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cds_archive: Option<PathBuf>,
    /// How long the JobManager may take from spawn to its first healthy `ready_url`. Default 20s, so
    /// that `session_timeout + start_timeout` fits the default budget.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping the JobManager. Zero means SIGKILL at once.
    /// Limited by the session timeout: see `flink_ha_core::timing::fence_after`. Default 3s.
    #[serde(with = "humantime_serde")]
    pub stop_grace: Duration,
    /// Time between two health checks of a running JobManager. Default 2s.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// Consecutive failed health checks after which the JobManager counts as failed. Default 3.
    pub health_failures: u32,
    /// Local restarts allowed within `restart_window` before this node gives up leadership.
    /// Zero means: never restart locally, resign at the first failure. Default 3.
    pub restart_limit: u32,
    /// Sliding window over which `restart_limit` is counted. Default 5m.
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
}

/// `[failover]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSettings {
    /// The longest acceptable time from the failure of the leader's JobManager to a healthy
    /// JobManager elsewhere (requirement 5.3: 30 s). Used to check the other timings. Default 30s.
    #[serde(with = "humantime_serde")]
    pub budget: Duration,
}

/// `[log]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A file that audit records (docs/audit-events.md) are appended to as JSON lines, besides
    /// stdout, for `flink-ha-supervisor audit`. Default: unset (stdout only, e.g. journald).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_file: Option<PathBuf>,
}

/// `[http]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// `ip:port` of the HTTP endpoint (`/health`, `/leader`, `/status`, `/metrics`); `""` or
    /// `"off"` turns it off. Default [`DEFAULT_HTTP_LISTEN`].
    pub listen: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { listen: DEFAULT_HTTP_LISTEN.to_string() }
    }
}

impl HttpSettings {
    /// The address to listen on, `Ok(None)` when the endpoint is off, or what is wrong with
    /// `listen` (validation refuses that, so after [`Settings::load`] this is never `Err`).
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
        let listen = self.listen.as_str();
        if listen.is_empty() || listen == "off" {
            return Ok(None);
        }
        let addr: SocketAddr = listen
            .parse()
            .map_err(|_| format!("{listen:?} is not an ip:port address (a host name is not resolved here)"))?;
        if addr.port() == 0 {
            return Err(format!("{listen:?} has port 0, which would pick a random port nobody knows"));
        }
        Ok(Some(addr))
    }
}

/// `[hooks]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSettings {
    /// Program and arguments run when this node becomes leader (not through a shell).
    /// Default: unset, no hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_leader: Option<Vec<String>>,
    /// Program and arguments run when this node stops being leader (lost, resigned, handed
    /// over, fenced, shut down). Default: unset, no hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_standby: Option<Vec<String>>,
    /// How long one hook may run before its process group is killed. Default 10s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings { on_leader: None, on_standby: None, timeout: Duration::from_secs(10) }
    }
}

/// What kind of problem a [`ConfigError`] reports, for callers that branch on it (exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
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

    /// What kind of problem this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The dotted key (`zookeeper.quorum`) the error is about, or the file's path.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The environment variable the offending value came from, if it came from one.
    pub fn env_var(&self) -> Option<&str> {
        self.env_var.as_deref()
    }

    /// What is wrong and how to fix it, without the key.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn with_env_origin(mut self, origins: &BTreeMap<String, String>) -> Self {
        if self.env_var.is_none() {
            self.env_var = origins.get(&self.key).cloned();
        }
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

/// A setting that works but probably not as intended. Returned by [`Settings::load`] and
/// [`Settings::validate`] for the caller to log; displays as one line.
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

/// Defaults that do not depend on the host or the environment, as the strings a user would
/// write. docs/configuration.md and config/flink-ha-supervisor.toml repeat them.
const DEFAULTS: &[(&str, &str)] = &[
    ("zookeeper.session_timeout", "10s"),
    ("zookeeper.connect_timeout", "3s"),
    ("election.path", "/flink/leader"),
    ("jobmanager.ready_url", "http://127.0.0.1:8081/overview"),
    ("jobmanager.start_timeout", "20s"),
    ("jobmanager.stop_grace", "3s"),
    ("jobmanager.health_interval", "2s"),
    ("jobmanager.restart_window", "5m"),
    ("failover.budget", "30s"),
    ("http.listen", DEFAULT_HTTP_LISTEN),
    ("hooks.timeout", "10s"),
];

/// Numeric defaults.
const COUNT_DEFAULTS: &[(&str, u32)] = &[("jobmanager.health_failures", 3), ("jobmanager.restart_limit", 3)];

/// The type a key expects, for the checks that run before deserialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    /// A duration no longer than the bound: beyond it a value is a typo, and a huge one would
    /// overflow the clock arithmetic of the daemon.
    Duration(Duration),
    Count,
    List,
    Table,
    Bool,
}

const TEN_MINUTES: Duration = Duration::from_secs(10 * 60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const WEEK: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Every key, section by section, in documentation order; durations with their upper bound.
const SCHEMA: &[(&str, &[(&str, Kind)])] = &[
    ("node", &[("id", Kind::Text)]),
    (
        "zookeeper",
        &[
            ("quorum", Kind::Text),
            ("session_timeout", Kind::Duration(TEN_MINUTES)),
            ("connect_timeout", Kind::Duration(TEN_MINUTES)),
        ],
    ),
    ("election", &[("path", Kind::Text)]),
    (
        "jobmanager",
        &[
            ("command", Kind::List),
            ("env", Kind::Table),
            ("workdir", Kind::Text),
            ("ready_url", Kind::Text),
            ("rpc_address", Kind::Text),
            ("log_file", Kind::Text),
            ("cds_archive", Kind::Text),
            ("start_timeout", Kind::Duration(HOUR)),
            ("stop_grace", Kind::Duration(TEN_MINUTES)),
            ("health_interval", Kind::Duration(HOUR)),
            ("health_failures", Kind::Count),
            ("restart_limit", Kind::Count),
            ("restart_window", Kind::Duration(WEEK)),
        ],
    ),
    ("failover", &[("budget", Kind::Duration(DAY))]),
    ("log", &[("audit_file", Kind::Text)]),
    ("http", &[("listen", Kind::Text)]),
    (
        "flink",
        &[
            ("enabled", Kind::Bool),
            ("mode", Kind::Text),
            ("zookeeper_quorum", Kind::Text),
            ("zookeeper_path_root", Kind::Text),
            ("cluster_id", Kind::Text),
            ("kubernetes_namespace", Kind::Text),
            ("kubernetes_cluster_id", Kind::Text),
            ("storage_dir", Kind::Text),
            ("jobmanager_count", Kind::Count),
            ("failover_timeout", Kind::Duration(DAY)),
            ("zookeeper_session_timeout", Kind::Duration(TEN_MINUTES)),
            ("zookeeper_connection_timeout", Kind::Duration(TEN_MINUTES)),
            ("base_config", Kind::Text),
            ("conf_dir", Kind::Text),
        ],
    ),
    ("hooks", &[("on_leader", Kind::List), ("on_standby", Kind::List), ("timeout", Kind::Duration(HOUR))]),
];

/// Keys whose value is a list of strings; from the environment they are split on whitespace.
const LIST_KEYS: &[&str] = &["jobmanager.command", "hooks.on_leader", "hooks.on_standby"];

/// All dotted keys, in documentation order.
pub fn known_keys() -> Vec<String> {
    SCHEMA.iter().flat_map(|(section, keys)| keys.iter().map(move |(key, _)| format!("{section}.{key}"))).collect()
}

/// The environment variable that sets a dotted key: `zookeeper.session_timeout` ->
/// `FHS_ZOOKEEPER__SESSION_TIMEOUT`.
pub fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.to_uppercase().replace('.', ENV_SEPARATOR))
}

impl Settings {
    /// Reads FILE plus the FHS_ environment, applies defaults, validates. Warnings are returned, not logged.
    pub fn load(path: &Path) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
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
        Self::load_with_env(path, env)
    }

    /// Same, but with an explicit environment (for tests; no process env mutation in tests).
    ///
    /// `env` stands for the whole process environment: `FHS_` variables and `FLINK_HOME` are
    /// taken from it, everything else is ignored.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        let file_key = path.display().to_string();
        let text = read_regular_file(path).map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::File,
                &file_key,
                format!("cannot read the configuration file: {e}; pass a readable TOML file with --config (config/flink-ha-supervisor.toml is an example)"),
            )
        })?;
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
        let settings: Settings = built.try_deserialize().map_err(|e| from_config_error(e, &file_key, &env.origins))?;
        let warnings = settings.validate().map_err(|e| e.with_env_origin(&env.origins))?;
        Ok((settings, warnings))
    }

    /// Checks that the settings can work: every value on its own, then the timings against each
    /// other. Returns the first error, or the warnings about settings that work but are risky.
    pub fn validate(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        self.validate_values()?;
        let mut warnings = self.validate_timing()?;
        warnings.extend(crate::flink::model::validate(self)?);
        Ok(warnings)
    }

    /// Checks what only the host that runs the daemon can tell: that `jobmanager.command`'s
    /// program exists and may be executed, and that `log.audit_file` can be appended to (an
    /// existing file that is not a FIFO or a directory, or a missing one in a writable
    /// directory). `run` and `check-config` call it after [`Settings::load`]; the commands that
    /// only talk to ZooKeeper (`status`, `pause`, ...) may run elsewhere and do not.
    pub fn check_host(&self) -> Result<(), ConfigError> {
        let jm = &self.jobmanager;
        if let Some(program) = jm.command.first() {
            let path_var = jm.env.get("PATH").cloned().or_else(|| std::env::var("PATH").ok());
            find_program(program, jm.workdir.as_deref(), path_var.as_deref()).map_err(|problem| {
                ConfigError::invalid(
                    "jobmanager.command",
                    format!("{problem}; install the JobManager there, or set jobmanager.command to its argv (the default is $FLINK_HOME/bin/jobmanager.sh start-foreground)"),
                )
            })?;
        }
        if let Some(file) = &self.log.audit_file {
            check_appendable(file).map_err(|problem| {
                ConfigError::invalid(
                    "log.audit_file",
                    format!("{problem}; point it at a file this daemon can append to"),
                )
            })?;
        }
        Ok(())
    }

    fn validate_values(&self) -> Result<(), ConfigError> {
        let id = &self.node.id;
        if id.is_empty() {
            return Err(ConfigError::invalid(
                "node.id",
                "must not be empty; set it to a name unique among the supervisors, e.g. the host name",
            ));
        }
        if id.len() > MAX_NODE_ID_BYTES {
            return Err(ConfigError::invalid(
                "node.id",
                format!("is {} bytes long; it goes into every election node and log record, so at most {MAX_NODE_ID_BYTES} bytes are allowed; use the host name or another short name", id.len()),
            ));
        }
        if id.contains('/') || id.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c)) {
            return Err(ConfigError::invalid(
                "node.id",
                format!("{id:?} contains '/', whitespace, a control or an invisible formatting character, which do not fit into the election node; use letters, digits, '-', '_' and '.'"),
            ));
        }

        check_quorum(&self.zookeeper.quorum).map_err(|problem| {
            ConfigError::invalid(
                "zookeeper.quorum",
                format!("{problem}; set it to host:port[,host:port...][/chroot], e.g. \"zk1:2181,zk2:2181,zk3:2181/apps/flink\""),
            )
        })?;

        check_znode_path(&self.election.path).map_err(|problem| {
            ConfigError::invalid(
                "election.path",
                format!("{problem}; set it to an absolute ZooKeeper path such as \"/flink/leader\""),
            )
        })?;

        let server_path = format!("{}{}", chroot_of(&self.zookeeper.quorum), self.election.path);
        if server_path == "/zookeeper" || server_path.starts_with("/zookeeper/") {
            return Err(ConfigError::invalid(
                "election.path",
                format!("{server_path:?} (chroot included) lies under /zookeeper, ZooKeeper's own subtree; set it to a path of your own such as \"/flink/leader\""),
            ));
        }

        let jm = &self.jobmanager;
        if jm.command.first().map_or(true, |program| program.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "jobmanager.command",
                "must name a program; set it to the JobManager's argv, e.g. [\"/opt/flink/bin/jobmanager.sh\", \"start-foreground\"]",
            ));
        }
        if let Some(arg) = jm.command.iter().find(|a| a.contains('\0')) {
            return Err(ConfigError::invalid(
                "jobmanager.command",
                format!("argument {arg:?} contains a NUL byte, which no program can receive; remove it"),
            ));
        }
        for (name, value) in &jm.env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(ConfigError::invalid(
                    format!("jobmanager.env.{name}"),
                    "an environment variable name must be non-empty and contain neither '=' nor NUL; rename it",
                ));
            }
            if value.contains('\0') {
                return Err(ConfigError::invalid(
                    format!("jobmanager.env.{name}"),
                    "the value contains a NUL byte, which an environment variable cannot hold; remove it",
                ));
            }
        }
        for (key, path) in [
            ("jobmanager.workdir", &jm.workdir),
            ("jobmanager.log_file", &jm.log_file),
            ("jobmanager.cds_archive", &jm.cds_archive),
            ("log.audit_file", &self.log.audit_file),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(ConfigError::invalid(key, "must not be empty; set a path or remove the key"));
            }
        }
        self.http.listen_addr().map_err(|problem| {
            ConfigError::invalid(
                "http.listen",
                format!("{problem}; set it to ip:port, e.g. \"127.0.0.1:9249\" (\"0.0.0.0:9249\" for load balancers), or \"\" to turn the endpoint off"),
            )
        })?;
        check_http_url(&jm.ready_url).map_err(|problem| {
            ConfigError::invalid(
                "jobmanager.ready_url",
                format!("{problem}; set it to http://host:port/path, e.g. \"http://127.0.0.1:8081/overview\""),
            )
        })?;
        check_host_port(&jm.rpc_address).map_err(|problem| {
            ConfigError::invalid(
                "jobmanager.rpc_address",
                format!("{:?}: {problem}; set it to the host:port other hosts reach this JobManager's RPC endpoint at, e.g. \"jm1.example.org:6123\"", jm.rpc_address),
            )
        })?;

        let positive = [
            ("zookeeper.session_timeout", self.zookeeper.session_timeout, "10s"),
            ("zookeeper.connect_timeout", self.zookeeper.connect_timeout, "3s"),
            ("jobmanager.start_timeout", jm.start_timeout, "20s"),
            ("jobmanager.health_interval", jm.health_interval, "2s"),
            ("jobmanager.restart_window", jm.restart_window, "5m"),
            ("failover.budget", self.failover.budget, "30s"),
            ("hooks.timeout", self.hooks.timeout, "10s"),
        ];
        for (key, value, default) in positive {
            if value.is_zero() {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be longer than zero; set a duration such as \"{default}\" (the default)"),
                ));
            }
        }
        if jm.health_failures == 0 {
            return Err(ConfigError::invalid(
                "jobmanager.health_failures",
                "must be at least 1 (a JobManager cannot fail zero health checks); set it to e.g. 3 (the default)",
            ));
        }
        for (key, hook) in [("hooks.on_leader", &self.hooks.on_leader), ("hooks.on_standby", &self.hooks.on_standby)] {
            let Some(argv) = hook else { continue };
            if argv.first().map_or(true, |program| program.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    key,
                    "must name a program; set it to the hook's argv, e.g. [\"/usr/local/bin/move-vip\", \"--up\"], or remove the key for no hook",
                ));
            }
            if let Some(arg) = argv.iter().find(|a| a.contains('\0')) {
                return Err(ConfigError::invalid(
                    key,
                    format!("argument {arg:?} contains a NUL byte, which no program can receive; remove it"),
                ));
            }
        }
        Ok(())
    }

    fn validate_timing(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        let session = self.zookeeper.session_timeout;
        let connect = self.zookeeper.connect_timeout;
        let grace = self.jobmanager.stop_grace;
        let start = self.jobmanager.start_timeout;
        let budget = self.failover.budget;

        if connect >= session {
            return Err(ConfigError::timing(
                "zookeeper.connect_timeout",
                format!(
                    "{} is not shorter than zookeeper.session_timeout ({}): a single connection attempt could outlast the session it is meant to keep; lower zookeeper.connect_timeout below {} or raise zookeeper.session_timeout",
                    fmt_duration(connect), fmt_duration(session), fmt_duration(session),
                ),
            ));
        }

        if timing::fence_after(session, grace).is_none() {
            let raise = match min_session_timeout(grace) {
                Some(min) => format!("raise zookeeper.session_timeout to at least {}", fmt_duration(min)),
                None => "raise zookeeper.session_timeout".to_string(),
            };
            let message = if timing::fence_after(session, Duration::ZERO).is_none() {
                format!(
                    "zookeeper.session_timeout = {} leaves no time to stop the JobManager before the session could expire, whatever jobmanager.stop_grace is ({} now); {raise}",
                    fmt_duration(session), fmt_duration(grace),
                )
            } else {
                format!(
                    "{} is too long for zookeeper.session_timeout = {}: the JobManager could still be running when the session expires and another node takes over; set jobmanager.stop_grace to at most {} or {raise}",
                    fmt_duration(grace), fmt_duration(session), fmt_duration(timing::max_stop_grace(session)),
                )
            };
            return Err(ConfigError::timing("jobmanager.stop_grace", message));
        }

        if session >= budget {
            return Err(ConfigError::timing(
                "failover.budget",
                format!(
                    "{} is not longer than zookeeper.session_timeout ({}): a crashed leader is only noticed when its session expires, so a failover after a crash can never meet the budget; lower zookeeper.session_timeout or raise failover.budget",
                    fmt_duration(budget), fmt_duration(session),
                ),
            ));
        }

        let mut warnings = Vec::new();
        if session + start > budget {
            warnings.push(ConfigWarning {
                key: "jobmanager.start_timeout".into(),
                message: format!(
                    "zookeeper.session_timeout ({}) + jobmanager.start_timeout ({}) = {} exceeds failover.budget ({}): a failover whose JobManager starts slowly can overrun the budget; lower jobmanager.start_timeout to at most {} (and make the JobManager start that fast) or raise failover.budget",
                    fmt_duration(session), fmt_duration(start), fmt_duration(session + start), fmt_duration(budget), fmt_duration(budget - session),
                ),
            });
        }
        let (low, high) = DEFAULT_SERVER_SESSION_RANGE;
        if session < low {
            warnings.push(ConfigWarning {
                key: "zookeeper.session_timeout".into(),
                message: format!(
                    "{} is below the {} a ZooKeeper server with default settings (tickTime 2000) grants; it will raise the timeout, so a crash is noticed later than configured; use at least {} or lower minSessionTimeout on the servers",
                    fmt_duration(session), fmt_duration(low), fmt_duration(low),
                ),
            });
        } else if session > high {
            warnings.push(ConfigWarning {
                key: "zookeeper.session_timeout".into(),
                message: format!(
                    "{} is above the {} a ZooKeeper server with default settings (tickTime 2000) grants; it will lower the timeout and the supervisor must fence by the shorter negotiated one; use at most {} or raise maxSessionTimeout on the servers",
                    fmt_duration(session), fmt_duration(high), fmt_duration(high),
                ),
            });
        }
        Ok(warnings)
    }
}

/// The `FHS_` part of an environment, split the way the `config` crate cannot do on its own.
struct EnvLayer {
    /// Variables handed to `config::Environment` as they are.
    plain: config::Map<String, String>,
    /// `FHS_JOBMANAGER__COMMAND` and the other [`LIST_KEYS`], split on whitespace.
    lists: Vec<(String, Vec<String>)>,
    /// `FHS_JOBMANAGER__ENV__<NAME>` entries, with the case of NAME kept.
    jobmanager_env: Vec<(String, String)>,
    /// `FLINK_HOME`, when set and not empty.
    flink_home: Option<String>,
    /// Dotted key -> the variable that set it, for error messages.
    origins: BTreeMap<String, String>,
}

impl EnvLayer {
    fn split(env: impl IntoIterator<Item = (String, String)>) -> Result<EnvLayer, ConfigError> {
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
                    let mut error = ConfigError::new(
                        ConfigErrorKind::Invalid,
                        format!("jobmanager.env.{var}"),
                        "only ASCII letters, digits, '_' and '-' can follow FHS_JOBMANAGER__ENV__; set this variable in [jobmanager.env] in the file instead",
                    );
                    error.env_var = Some(name);
                    return Err(error);
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

/// Reads a regular file. Anything else is refused without waiting: a FIFO or a device could block
/// the read forever (the open does not wait either: `O_NONBLOCK`, which regular files ignore).
fn read_regular_file(path: &Path) -> std::io::Result<String> {
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
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn hostname() -> Result<String, String> {
    let name = nix::unistd::gethostname().map_err(|e| e.to_string())?;
    let name = name.into_string().map_err(|_| "the host name is not valid UTF-8".to_string())?;
    if name.is_empty() {
        return Err("the host name is empty".into());
    }
    Ok(name)
}

/// Checks keys and value types of the merged tree, before serde sees it, for messages that name
/// the full key. (serde's own `deny_unknown_fields` message names only the field, and the config
/// crate silently converts e.g. 2.6 to 3 and "yes" to 1 for integers.)
fn check_tree(root: &Value, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let ValueKind::Table(top) = &root.kind else {
        return Err(ConfigError::new(ConfigErrorKind::WrongType, "(root)", "the configuration is not a table"));
    };
    let sections: Vec<String> = SCHEMA.iter().map(|(s, _)| format!("[{s}]")).collect();
    let mut names: Vec<&String> = top.keys().collect();
    names.sort();
    for name in names {
        let value = &top[name];
        let Some((section, keys)) = SCHEMA.iter().find(|(s, _)| s == name) else {
            return Err(unknown_key(name, origins, format!("known sections: {}", sections.join(", "))));
        };
        let ValueKind::Table(table) = &value.kind else {
            return Err(ConfigError::new(
                ConfigErrorKind::WrongType,
                *section,
                format!(
                    "expected a table [{section}], found {}; write the keys under a [{section}] header",
                    describe(value)
                ),
            )
            .with_env_origin(origins));
        };
        let mut entries: Vec<&String> = table.keys().collect();
        entries.sort();
        for entry in entries {
            let full = format!("{section}.{entry}");
            let Some((_, kind)) = keys.iter().find(|(k, _)| k == entry) else {
                let known: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                return Err(unknown_key(&full, origins, format!("known keys in [{section}]: {}", known.join(", "))));
            };
            check_kind(&full, *kind, &table[entry], origins)?;
        }
    }
    Ok(())
}

fn unknown_key(full: &str, origins: &BTreeMap<String, String>, known: String) -> ConfigError {
    let var = origins.iter().find(|(k, _)| *k == full || k.starts_with(&format!("{full}."))).map(|(_, v)| v.clone());
    let hint = match suggest(full) {
        Some(close) if var.is_some() => format!(" (did you mean `{close}`, set by {}?)", env_var_name(&close)),
        Some(close) => format!(" (did you mean `{close}`?)"),
        None => String::new(),
    };
    let mut error = ConfigError::new(ConfigErrorKind::UnknownKey, full, format!("unknown key `{full}`{hint}; {known}"));
    error.env_var = var;
    error
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
        .map(|k| (edit_distance(&norm(&k), &wanted), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn describe(value: &Value) -> String {
    match &value.kind {
        ValueKind::Nil => "nothing".into(),
        ValueKind::Boolean(b) => format!("the boolean {b}"),
        ValueKind::I64(n) => format!("the number {n}"),
        ValueKind::I128(n) => format!("the number {n}"),
        ValueKind::U64(n) => format!("the number {n}"),
        ValueKind::U128(n) => format!("the number {n}"),
        ValueKind::Float(n) => format!("the number {n}"),
        ValueKind::String(s) => format!("the string {s:?}"),
        ValueKind::Array(_) => "a list".into(),
        ValueKind::Table(_) => "a table".into(),
    }
}

fn check_kind(key: &str, kind: Kind, value: &Value, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let wrong = |message: String| ConfigError::new(ConfigErrorKind::WrongType, key, message).with_env_origin(origins);
    match (kind, &value.kind) {
        (Kind::Text, ValueKind::String(_)) => Ok(()),
        (Kind::Text, _) => {
            Err(wrong(format!("expected a string, found {}; write it in double quotes", describe(value))))
        }
        (Kind::Duration(max), ValueKind::String(s)) => match humantime::parse_duration(s) {
            Ok(d) if d <= max => Ok(()),
            Ok(_) => Err(ConfigError::new(
                ConfigErrorKind::Invalid,
                key,
                format!(
                    "{s:?} is longer than the {} this key allows; set a duration of at most {}",
                    fmt_duration(max),
                    fmt_duration(max)
                ),
            )
            .with_env_origin(origins)),
            Err(e) => Err(wrong(format!(
                "invalid duration {s:?} ({e}); write a number with a unit, e.g. \"4s\", \"250ms\" or \"5m\""
            ))),
        },
        (Kind::Duration(_), ValueKind::I64(n)) => {
            Err(wrong(format!("the number {n} has no unit; write a duration string such as \"{n}s\" or \"{n}ms\"")))
        }
        (Kind::Duration(_), _) => {
            Err(wrong(format!("expected a duration string such as \"4s\" or \"250ms\", found {}", describe(value))))
        }
        (Kind::Count, ValueKind::I64(n)) if u32::try_from(*n).is_ok() => Ok(()),
        (Kind::Count, ValueKind::U64(n)) if u32::try_from(*n).is_ok() => Ok(()),
        // Values from the environment are always strings.
        (Kind::Count, ValueKind::String(s)) if origins.contains_key(key) && s.trim().parse::<u32>().is_ok() => Ok(()),
        (Kind::Count, ValueKind::String(s)) if !origins.contains_key(key) => {
            Err(wrong(format!("expected a whole number, found the string {s:?}; write the number without quotes")))
        }
        (Kind::Count, _) => {
            Err(wrong(format!("expected a whole number from 0 to {}, found {}", u32::MAX, describe(value))))
        }
        (Kind::List, ValueKind::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !matches!(item.kind, ValueKind::String(_)) {
                    return Err(wrong(format!(
                        "element {i} is {}; every element must be a string in double quotes",
                        describe(item)
                    )));
                }
            }
            Ok(())
        }
        (Kind::List, _) => Err(wrong(format!(
            "expected a list of strings such as [\"/opt/flink/bin/jobmanager.sh\", \"start-foreground\"], found {}",
            describe(value)
        ))),
        (Kind::Table, ValueKind::Table(entries)) => {
            for (name, item) in entries {
                if !matches!(item.kind, ValueKind::String(_)) {
                    return Err(ConfigError::new(
                        ConfigErrorKind::WrongType,
                        format!("{key}.{name}"),
                        format!("expected a string, found {}; write it in double quotes", describe(item)),
                    )
                    .with_env_origin(origins));
                }
            }
            Ok(())
        }
        (Kind::Bool, ValueKind::Boolean(_)) => Ok(()),
        // Values from the environment are always strings.
        (Kind::Bool, ValueKind::String(s)) if origins.contains_key(key) && matches!(s.trim(), "true" | "false") => {
            Ok(())
        }
        (Kind::Bool, _) => Err(wrong(format!("expected true or false without quotes, found {}", describe(value)))),
        (Kind::Table, _) => Err(wrong(format!(
            "expected a table of strings such as {{ JAVA_HOME = \"/usr/lib/jvm/java-17\" }}, found {}",
            describe(value)
        ))),
    }
}

fn lookup<'a>(root: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(root, |value, part| match &value.kind {
        ValueKind::Table(table) => table.get(part),
        _ => None,
    })
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
fn from_config_error(error: config::ConfigError, file: &str, origins: &BTreeMap<String, String>) -> ConfigError {
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

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The shortest session timeout for which `timing::fence_after` accepts `stop_grace`, to the
/// millisecond; `None` if none up to a day does.
fn min_session_timeout(stop_grace: Duration) -> Option<Duration> {
    let fits = |ms: u64| timing::fence_after(Duration::from_millis(ms), stop_grace).is_some();
    let (mut low, mut high) = (0u64, 86_400_000u64);
    if !fits(high) {
        return None;
    }
    // fence_after's reserve grows more slowly than the session timeout, so `fits` is monotonic.
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(Duration::from_millis(high))
}

/// Checks `host:port` (IPv6 hosts in brackets) with a port of 1-65535.
fn check_host_port(address: &str) -> Result<(), String> {
    if address.is_empty() {
        return Err("is empty".into());
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace".into());
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("has '[' without a closing ']'".into());
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err("needs a :port after the bracketed host".into());
        };
        (host, port)
    } else {
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err("has no :port".into());
        };
        if host.contains(':') {
            return Err("write an IPv6 host in brackets, e.g. [::1]:2181".into());
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("has an empty host".into());
    }
    if host.contains(['/', '@', '[', ']']) {
        return Err(format!("host {host:?} is not a host name or address"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("port {port:?} is not a number from 1 to 65535")),
    }
}

/// Finds the program of a command the way the exec of the fence guard will: a name with a '/'
/// as a path (relative to `workdir` when set), any other in `path_var`'s directories.
fn find_program(program: &str, workdir: Option<&Path>, path_var: Option<&str>) -> Result<PathBuf, String> {
    use nix::unistd::{access, AccessFlags};
    let executable = |p: &Path| p.is_file() && access(p, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let path = match workdir {
            Some(dir) if Path::new(program).is_relative() => dir.join(program),
            _ => PathBuf::from(program),
        };
        return match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("the program {} does not exist", path.display()))
            }
            Err(e) => Err(format!("the program {} cannot be read: {e}", path.display())),
            Ok(m) if !m.is_file() => Err(format!("the program {} is not a file", path.display())),
            Ok(_) if !executable(&path) => Err(format!("the program {} is not executable", path.display())),
            Ok(_) => Ok(path),
        };
    }
    let dirs = path_var.unwrap_or_default();
    std::env::split_paths(dirs)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| format!("the program {program:?} is not an executable file in any directory of PATH ({dirs})"))
}

/// Whether the daemon can append to `file` without blocking: an existing file that is not a
/// FIFO, a socket or a directory and is writable, or a missing one in a writable directory.
fn check_appendable(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt as _;

    use nix::unistd::{access, AccessFlags};
    match std::fs::metadata(file) {
        Ok(m) => {
            let kind = m.file_type();
            if kind.is_dir() {
                return Err(format!("{} is a directory", file.display()));
            }
            if kind.is_fifo() || kind.is_socket() {
                return Err(format!("{} is a FIFO or a socket, whose writes can block", file.display()));
            }
            access(file, AccessFlags::W_OK).map_err(|e| format!("{} is not writable: {e}", file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(format!("the directory {} does not exist", parent.display()));
            }
            access(parent, AccessFlags::W_OK | AccessFlags::X_OK)
                .map_err(|e| format!("{} cannot be created in {}: {e}", file.display(), parent.display()))
        }
        Err(e) => Err(format!("{} cannot be used: {e}", file.display())),
    }
}

/// The chroot of a connect string (`""` for none).
fn chroot_of(quorum: &str) -> &str {
    quorum.find('/').map_or("", |i| quorum[i..].trim_end_matches('/'))
}

/// Unicode formatting characters that show as nothing (zero-width, bidirectional overrides), so
/// that a name with them looks like another in logs and `status`.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// Checks a ZooKeeper connect string: `host:port[,host:port...][/chroot]`.
/// Parses a duration given on the command line (a humantime string such as `60s`), at most a
/// day: longer ones would overflow the clock's arithmetic and are refused in one line.
pub fn parse_command_line_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d <= DAY => Ok(d),
        Ok(_) => Err(format!("{text:?} is longer than a day; give a duration of at most 1day")),
        Err(e) => Err(format!("invalid duration {text:?} ({e}); write a number with a unit, e.g. \"30s\"")),
    }
}

pub(crate) fn check_quorum(quorum: &str) -> Result<(), String> {
    if quorum.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let (hosts, chroot) = match quorum.find('/') {
        Some(i) => (&quorum[..i], Some(&quorum[i..])),
        None => (quorum, None),
    };
    for (i, entry) in hosts.split(',').enumerate() {
        if entry.is_empty() {
            return Err(format!("entry {} is empty (a stray comma?)", i + 1));
        }
        check_host_port(entry).map_err(|problem| format!("entry {entry:?} {problem}"))?;
    }
    if let Some(chroot) = chroot {
        check_znode_path(chroot).map_err(|problem| format!("chroot {chroot:?}: {problem}"))?;
    }
    Ok(())
}

/// Checks an absolute ZooKeeper path the way the server does, and refuses "/" itself.
pub(crate) fn check_znode_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if !path.starts_with('/') {
        return Err(format!("{path:?} is relative; it must start with '/'"));
    }
    if path == "/" {
        return Err("must not be the root \"/\" itself".into());
    }
    if path.ends_with('/') {
        return Err(format!("{path:?} must not end with '/'"));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err(format!("{path:?} contains an empty segment (\"//\")")),
            "." | ".." => return Err(format!("{path:?} contains a \".\" or \"..\" segment")),
            _ => {}
        }
    }
    // The characters ZooKeeper's PathUtils refuses.
    let refused = |c: char| matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0x9f | 0xd800..=0xf8ff | 0xfff0..=0xffff);
    if path.chars().any(refused) {
        return Err(format!("{path:?} contains a character ZooKeeper refuses in paths"));
    }
    Ok(())
}

/// Checks `http://host:port/path`.
fn check_http_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(format!("{url:?} uses https, but the health check speaks plain http only"));
    }
    if !lower.starts_with("http://") {
        return Err(format!("{url:?} does not start with http://"));
    }
    let rest = &url["http://".len()..];
    let Some(slash) = rest.find('/') else {
        return Err(format!("{url:?} has no path (such as /overview)"));
    };
    let (authority, path) = rest.split_at(slash);
    if authority.contains('@') {
        return Err(format!("{url:?} contains user information"));
    }
    check_host_port(authority).map_err(|problem| format!("{url:?}: host:port {problem}"))?;
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Lines every test file gets unless the test sets the same key itself.
    const BASE: &[&str] =
        &["zookeeper.quorum = \"zk1:2181\"", "jobmanager.command = [\"/bin/jm\", \"start-foreground\"]"];

    /// A TOML text of dotted keys: BASE plus `lines`, a line of `lines` replacing the BASE line
    /// of the same key.
    fn toml(lines: &[&str]) -> String {
        let key = |line: &str| line.split('=').next().unwrap().trim().to_string();
        let mut text: Vec<&str> = BASE.iter().copied().filter(|b| !lines.iter().any(|l| key(l) == key(b))).collect();
        text.extend(lines);
        text.join("\n") + "\n"
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        let file = write(text);
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_with_env(file.path(), env)
    }

    fn load_env(lines: &[&str], env: &[(&str, &str)]) -> Settings {
        match load_text(&toml(lines), env) {
            Ok((settings, _)) => settings,
            Err(e) => panic!("expected {lines:?} with {env:?} to load, got: {e}"),
        }
    }

    fn load(lines: &[&str]) -> Settings {
        load_env(lines, &[])
    }

    fn warnings(lines: &[&str]) -> Vec<ConfigWarning> {
        match load_text(&toml(lines), &[]) {
            Ok((_, warnings)) => warnings,
            Err(e) => panic!("expected {lines:?} to load, got: {e}"),
        }
    }

    fn error_text(text: &str, env: &[(&str, &str)]) -> ConfigError {
        match load_text(text, env) {
            Ok((settings, _)) => panic!("expected an error for {text:?}, got {settings:?}"),
            Err(e) => {
                let shown = e.to_string();
                assert!(!shown.contains('\n'), "not one line: {shown}");
                e
            }
        }
    }

    fn error_env(lines: &[&str], env: &[(&str, &str)]) -> ConfigError {
        error_text(&toml(lines), env)
    }

    fn error(lines: &[&str]) -> ConfigError {
        error_env(lines, &[])
    }

    /// Asserts the error is about `key` and its text contains every one of `words`.
    fn assert_error(e: &ConfigError, key: &str, words: &[&str]) {
        let shown = e.to_string();
        assert_eq!(e.key(), key, "wrong key in: {shown}");
        assert!(shown.starts_with(key), "does not start with {key}: {shown}");
        for word in words {
            assert!(shown.contains(word), "{word:?} missing from: {shown}");
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn host() -> String {
        nix::unistd::gethostname().unwrap().into_string().unwrap()
    }

    // ----- defaults and the example file -----

    #[test]
    fn example_file_validates_with_the_documented_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/flink-ha-supervisor.toml");
        let (example, warnings) = Settings::load_with_env(&path, Vec::new()).unwrap();

        // Set explicitly, because they have no default.
        assert_eq!(example.zookeeper.quorum, "zk1.example.org:2181,zk2.example.org:2181,zk3.example.org:2181");
        assert_eq!(example.jobmanager.command, ["/opt/flink/bin/jobmanager.sh", "start-foreground"]);

        // Everything else equals what a file with only the required keys gets.
        let mut minimal = load(&[]);
        minimal.zookeeper.quorum = example.zookeeper.quorum.clone();
        minimal.jobmanager.command = example.jobmanager.command.clone();
        // The example enables [flink], whose storage dir has no default.
        assert!(example.flink.enabled && !minimal.flink.enabled);
        minimal.flink.enabled = true;
        minimal.flink.storage_dir = example.flink.storage_dir.clone();
        assert_eq!(example, minimal);

        // The defaults fit the budget even for a JobManager that uses its whole start timeout.
        // The one warning: no base Flink configuration, since FLINK_HOME is unset here.
        let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["flink.base_config"], "{warnings:?}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = load(&[]);
        assert_eq!(s.node.id, host());
        assert_eq!(s.zookeeper.session_timeout, secs(10));
        assert_eq!(s.zookeeper.connect_timeout, secs(3));
        assert_eq!(s.election.path, "/flink/leader");
        assert!(s.jobmanager.env.is_empty());
        assert_eq!(s.jobmanager.workdir, None);
        assert_eq!(s.jobmanager.ready_url, "http://127.0.0.1:8081/overview");
        assert_eq!(s.jobmanager.rpc_address, format!("{}:6123", host()));
        assert_eq!(s.jobmanager.log_file, None);
        assert_eq!(s.jobmanager.start_timeout, secs(20));
        assert_eq!(s.jobmanager.stop_grace, secs(3));
        assert_eq!(s.jobmanager.health_interval, secs(2));
        assert_eq!(s.jobmanager.health_failures, 3);
        assert_eq!(s.jobmanager.restart_limit, 3);
        assert_eq!(s.jobmanager.restart_window, secs(300));
        assert_eq!(s.failover.budget, secs(30));
    }

    #[test]
    fn every_key_can_be_set_in_the_file() {
        let text = r#"
[node]
id = "jm7"
[zookeeper]
quorum = "zk1:2181,[::1]:2182/apps/flink"
session_timeout = "6s"
connect_timeout = "2s"
[election]
path = "/apps/leader"
[jobmanager]
command = ["/opt/flink/bin/jobmanager.sh", "start-foreground"]
workdir = "/opt/flink"
ready_url = "http://jm7:8081/overview"
rpc_address = "jm7:6123"
log_file = "/var/log/jm.out"
start_timeout = "8s"
stop_grace = "2500ms"
health_interval = "1s"
health_failures = 5
restart_limit = 0
restart_window = "10m"
[jobmanager.env]
FLINK_CONF_DIR = "/etc/flink"
[failover]
budget = "20s"
"#;
        let (s, warnings) = load_text(text, &[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.node.id, "jm7");
        assert_eq!(s.zookeeper.quorum, "zk1:2181,[::1]:2182/apps/flink");
        assert_eq!(s.zookeeper.session_timeout, secs(6));
        assert_eq!(s.zookeeper.connect_timeout, secs(2));
        assert_eq!(s.election.path, "/apps/leader");
        assert_eq!(s.jobmanager.workdir, Some(PathBuf::from("/opt/flink")));
        assert_eq!(s.jobmanager.ready_url, "http://jm7:8081/overview");
        assert_eq!(s.jobmanager.rpc_address, "jm7:6123");
        assert_eq!(s.jobmanager.log_file, Some(PathBuf::from("/var/log/jm.out")));
        assert_eq!(s.jobmanager.start_timeout, secs(8));
        assert_eq!(s.jobmanager.stop_grace, Duration::from_millis(2500));
        assert_eq!(s.jobmanager.health_interval, secs(1));
        assert_eq!(s.jobmanager.health_failures, 5);
        assert_eq!(s.jobmanager.restart_limit, 0);
        assert_eq!(s.jobmanager.restart_window, secs(600));
        assert_eq!(s.jobmanager.env["FLINK_CONF_DIR"], "/etc/flink");
        assert_eq!(s.failover.budget, secs(20));
    }

    #[test]
    fn default_command_comes_from_flink_home() {
        let text = "zookeeper.quorum = \"zk1:2181\"\n";
        let (s, _) = load_text(text, &[("FLINK_HOME", "/opt/flink-2.3.0/")]).unwrap();
        assert_eq!(s.jobmanager.command, ["/opt/flink-2.3.0/bin/jobmanager.sh", "start-foreground"]);
        // An explicit command wins over FLINK_HOME.
        let s = load_env(&[], &[("FLINK_HOME", "/opt/flink")]);
        assert_eq!(s.jobmanager.command, ["/bin/jm", "start-foreground"]);
    }

    #[test]
    fn missing_command_without_flink_home_names_both() {
        let text = "zookeeper.quorum = \"zk1:2181\"\n";
        let e = error_text(text, &[]);
        assert_error(&e, "jobmanager.command", &["FLINK_HOME", "FHS_JOBMANAGER__COMMAND"]);
        assert_eq!(e.kind(), ConfigErrorKind::Missing);
        // An empty FLINK_HOME is no FLINK_HOME.
        let e = error_text(text, &[("FLINK_HOME", "")]);
        assert_error(&e, "jobmanager.command", &["FLINK_HOME"]);
    }

    #[test]
    fn missing_quorum_is_an_error() {
        let e = error_text("jobmanager.command = [\"/bin/jm\"]\n", &[]);
        assert_error(&e, "zookeeper.quorum", &["required", "host:port"]);
    }

    // ----- the file -----

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let e = Settings::load_with_env(&path, Vec::new()).unwrap_err();
        assert_error(&e, &path.display().to_string(), &["cannot read", "--config"]);
        assert_eq!(e.kind(), ConfigErrorKind::File);
    }

    #[test]
    fn unreadable_file_names_the_path() {
        // A directory cannot be read as a file, whoever runs the test (root reads mode 000 files).
        let dir = tempfile::tempdir().unwrap();
        let e = Settings::load_with_env(dir.path(), Vec::new()).unwrap_err();
        assert_error(&e, &dir.path().display().to_string(), &["cannot read"]);
    }

    #[test]
    fn toml_syntax_error_names_file_and_line() {
        let file = write("[zookeeper]\nquorum = zk1:2181\n");
        let e = Settings::load_with_env(file.path(), Vec::new()).unwrap_err();
        assert_error(&e, &file.path().display().to_string(), &["TOML syntax error at line 2", "fix the TOML syntax"]);
        assert_eq!(e.kind(), ConfigErrorKind::Syntax);
        assert!(!e.to_string().contains('\n'));
    }

    // ----- unknown keys and types -----

    #[test]
    fn misspelt_key_is_named_in_full() {
        let e = error(&["zookeeper.sesion_timeout = \"4s\""]);
        assert_error(
            &e,
            "zookeeper.sesion_timeout",
            &[
                "unknown key `zookeeper.sesion_timeout`",
                "did you mean `zookeeper.session_timeout`",
                "known keys in [zookeeper]: quorum, session_timeout, connect_timeout",
            ],
        );
        assert_eq!(e.kind(), ConfigErrorKind::UnknownKey);
    }

    #[test]
    fn unknown_section_is_named() {
        let e = error(&["zookeper.quorum = \"zk1:2181\""]);
        assert_error(&e, "zookeper", &["unknown key `zookeper`", "did you mean `zookeeper`?", "[zookeeper]"]);
        let e = error(&["kafka.brokers = \"k1:9092\""]);
        assert_error(&e, "kafka", &["unknown key `kafka`", "known sections"]);
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }

    #[test]
    fn unparsable_duration_names_key_value_and_example() {
        let e = error(&["zookeeper.session_timeout = \"4 seconds please\""]);
        assert_error(&e, "zookeeper.session_timeout", &["\"4 seconds please\"", "\"4s\""]);
        assert_eq!(e.kind(), ConfigErrorKind::WrongType);
        let e = error(&["jobmanager.stop_grace = \"3x\""]);
        assert_error(&e, "jobmanager.stop_grace", &["\"3x\"", "\"4s\""]);
    }

    #[test]
    fn duration_without_unit_is_refused() {
        let e = error(&["failover.budget = 30"]);
        assert_error(&e, "failover.budget", &["no unit", "\"30s\""]);
    }

    #[test]
    fn every_duration_has_an_upper_bound_named_in_one_line() {
        let durations: Vec<(String, Duration)> = SCHEMA
            .iter()
            .flat_map(|(section, keys)| {
                keys.iter().filter_map(move |(key, kind)| match kind {
                    Kind::Duration(max) => Some((format!("{section}.{key}"), *max)),
                    _ => None,
                })
            })
            .collect();
        assert_eq!(durations.len(), 11, "{durations:?}");
        for (key, max) in durations {
            // Past u64 nanoseconds: would overflow Instant once a JobManager starts.
            let e = error(&[&format!("{key} = \"584542046090years\"")]);
            assert_error(&e, &key, &["\"584542046090years\"", "at most", &fmt_duration(max)]);
            assert_eq!(e.kind(), ConfigErrorKind::Invalid);
            // Just past the bound is refused as well; from the environment it names the variable.
            let var = env_var_name(&key);
            let e = error_env(&[], &[(&var, &fmt_duration(max + Duration::from_millis(1)))]);
            assert_error(&e, &key, &["at most"]);
            assert_eq!(e.env_var(), Some(var.as_str()));
        }
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = error(&["jobmanager.health_failures = \"three\""]);
        assert_error(&e, "jobmanager.health_failures", &["whole number", "\"three\""]);
        // The config crate alone would round 2.5 to 3.
        let e = error(&["jobmanager.health_failures = 2.5"]);
        assert_error(&e, "jobmanager.health_failures", &["whole number", "2.5"]);
        let e = error(&["jobmanager.restart_limit = -1"]);
        assert_error(&e, "jobmanager.restart_limit", &["whole number"]);
        let e = error(&["zookeeper.quorum = 2181"]);
        assert_error(&e, "zookeeper.quorum", &["expected a string"]);
        let e = error(&["jobmanager.command = \"/bin/jm start-foreground\""]);
        assert_error(&e, "jobmanager.command", &["list of strings"]);
        let e = error(&["jobmanager.command = [\"/bin/jm\", 3]"]);
        assert_error(&e, "jobmanager.command", &["element 1"]);
        let e = error(&["jobmanager.env.FLINK_PARALLELISM = 4"]);
        assert_error(&e, "jobmanager.env.FLINK_PARALLELISM", &["expected a string"]);
        let e = error(&["election = \"/flink/leader\""]);
        assert_error(&e, "election", &["expected a table [election]"]);
    }

    // ----- values -----

    #[test]
    fn empty_quorum_is_refused() {
        let e = error(&["zookeeper.quorum = \"\""]);
        assert_error(&e, "zookeeper.quorum", &["must not be empty", "host:port"]);
        let e = error(&["zookeeper.quorum = \"  \""]);
        assert_error(&e, "zookeeper.quorum", &["must not be empty"]);
    }

    #[test]
    fn malformed_quorum_entries_are_refused() {
        for (quorum, words) in [
            ("zk1", &["\"zk1\"", "no :port"][..]),
            ("zk1:abc", &["\"abc\"", "1 to 65535"]),
            ("zk1:0", &["\"0\"", "1 to 65535"]),
            ("zk1:65536", &["\"65536\""]),
            ("zk1:+2181", &["\"+2181\""]),
            (":2181", &["empty host"]),
            ("zk1:2181,", &["entry 2 is empty"]),
            ("zk1:2181,,zk2:2181", &["entry 2 is empty"]),
            ("zk1:2181, zk2:2181", &["whitespace"]),
            ("::1:2181", &["brackets"]),
            ("[::1:2181", &["']'"]),
        ] {
            let e = error(&[&format!("zookeeper.quorum = {quorum:?}")]);
            assert_error(&e, "zookeeper.quorum", words);
            assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        }
    }

    #[test]
    fn chroot_must_be_absolute_and_not_slash_terminated() {
        let s = load(&["zookeeper.quorum = \"zk1:2181,zk2:2181,zk3:2181/apps/flink\""]);
        assert_eq!(s.zookeeper.quorum, "zk1:2181,zk2:2181,zk3:2181/apps/flink");
        for quorum in ["zk1:2181/apps/flink/", "zk1:2181/", "zk1:2181/apps//flink", "zk1:2181/apps/.."] {
            let e = error(&[&format!("zookeeper.quorum = {quorum:?}")]);
            assert_error(&e, "zookeeper.quorum", &["chroot"]);
        }
    }

    #[test]
    fn election_path_must_be_absolute_and_not_end_in_slash() {
        for (path, word) in [
            ("flink/leader", "relative"),
            ("/flink/leader/", "end with '/'"),
            ("/", "root"),
            ("", "empty"),
            ("/flink//leader", "empty segment"),
            ("/flink/../leader", "\"..\""),
            ("/flink/\\u0001leader", "character"),
        ] {
            // TOML basic strings share Rust's escapes except \u, spelt out above.
            let e = error(&[&format!("election.path = \"{path}\"")]);
            assert_error(&e, "election.path", &[word, "/flink/leader"]);
        }
    }

    #[test]
    fn empty_command_is_refused() {
        for command in ["[]", "[\"\"]", "[\" \", \"start-foreground\"]"] {
            let e = error(&[&format!("jobmanager.command = {command}")]);
            assert_error(&e, "jobmanager.command", &["must name a program", "start-foreground"]);
        }
    }

    #[test]
    fn ready_url_must_be_plain_http_with_host_port_and_path() {
        for (url, word) in [
            ("127.0.0.1:8081/overview", "http://"),
            ("https://127.0.0.1:8081/overview", "https"),
            ("http://127.0.0.1/overview", "no :port"),
            ("http://127.0.0.1:8081", "no path"),
            ("http://:8081/overview", "empty host"),
            ("http://127.0.0.1:80x/overview", "\"80x\""),
            ("http://u@127.0.0.1:8081/overview", "user"),
        ] {
            let e = error(&[&format!("jobmanager.ready_url = {url:?}")]);
            assert_error(&e, "jobmanager.ready_url", &[word, "http://host:port/path"]);
        }
        let s = load(&["jobmanager.ready_url = \"http://[::1]:8081/overview?x=1\""]);
        assert_eq!(s.jobmanager.ready_url, "http://[::1]:8081/overview?x=1");
    }

    #[test]
    fn rpc_address_must_be_host_port() {
        let e = error(&["jobmanager.rpc_address = \"jm1\""]);
        assert_error(&e, "jobmanager.rpc_address", &["no :port"]);
    }

    #[test]
    fn empty_optional_paths_are_refused() {
        let e = error(&["jobmanager.log_file = \"\""]);
        assert_error(&e, "jobmanager.log_file", &["must not be empty"]);
        let e = error(&["jobmanager.workdir = \"\""]);
        assert_error(&e, "jobmanager.workdir", &["must not be empty"]);
    }

    #[test]
    fn bad_jobmanager_env_names_are_refused() {
        let e = error(&["jobmanager.env.\"A=B\" = \"x\""]);
        assert_error(&e, "jobmanager.env.A=B", &["'='"]);
    }

    #[test]
    fn zero_durations_are_refused_where_zero_makes_no_sense() {
        for key in [
            "zookeeper.session_timeout",
            "zookeeper.connect_timeout",
            "jobmanager.start_timeout",
            "jobmanager.health_interval",
            "jobmanager.restart_window",
            "failover.budget",
        ] {
            let e = error(&[&format!("{key} = \"0s\"")]);
            assert_error(&e, key, &["longer than zero"]);
        }
        // A stop grace of zero means SIGKILL at once: allowed.
        let s = load(&["jobmanager.stop_grace = \"0s\""]);
        assert_eq!(s.jobmanager.stop_grace, Duration::ZERO);
    }

    #[test]
    fn zero_health_failures_is_refused() {
        let e = error(&["jobmanager.health_failures = 0"]);
        assert_error(&e, "jobmanager.health_failures", &["at least 1"]);
    }

    #[test]
    fn bad_node_ids_are_refused() {
        let e = error(&["node.id = \"\""]);
        assert_error(&e, "node.id", &["must not be empty"]);
        for id in ["jm/1", "jm 1", "jm\t1"] {
            let e = error(&[&format!("node.id = {id:?}")]);
            assert_error(&e, "node.id", &["'/'", "whitespace"]);
        }
    }

    // ----- timings -----

    #[test]
    fn stop_grace_longer_than_the_session_allows_is_an_error() {
        // The limits come from flink_ha_core::timing, which owns the fencing rule.
        let longest = timing::max_stop_grace(secs(10));
        let too_long = longest + Duration::from_millis(1);
        let min_session = min_session_timeout(too_long).unwrap();
        let e = error(&[&format!("jobmanager.stop_grace = \"{}\"", fmt_duration(too_long))]);
        assert_error(
            &e,
            "jobmanager.stop_grace",
            &[
                &format!("at most {}", fmt_duration(longest)),
                "zookeeper.session_timeout",
                &format!("at least {}", fmt_duration(min_session)),
            ],
        );
        assert_eq!(e.kind(), ConfigErrorKind::Timing);
        // The longest allowed grace is allowed.
        let s = load(&[&format!("jobmanager.stop_grace = \"{}\"", fmt_duration(longest))]);
        assert_eq!(s.jobmanager.stop_grace, longest);
        // The minimum session timeout named in the message is enough.
        let s = load(&[
            &format!("jobmanager.stop_grace = \"{}\"", fmt_duration(too_long)),
            &format!("zookeeper.session_timeout = \"{}\"", fmt_duration(min_session)),
        ]);
        assert_eq!(s.zookeeper.session_timeout, min_session);
        assert!(timing::fence_after(min_session - Duration::from_millis(1), too_long).is_none());
    }

    #[test]
    fn default_stop_grace_is_too_long_for_a_4s_session() {
        // With today's FENCE_MARGIN a 4s session leaves no room for the default 3s grace.
        assert!(timing::fence_after(secs(4), secs(3)).is_none());
        let e = error(&["zookeeper.session_timeout = \"4s\""]);
        assert_error(&e, "jobmanager.stop_grace", &["zookeeper.session_timeout = 4s"]);
    }

    #[test]
    fn session_too_short_for_any_stop_grace_is_an_error() {
        let e = error(&[
            "zookeeper.session_timeout = \"1s\"",
            "zookeeper.connect_timeout = \"500ms\"",
            "jobmanager.stop_grace = \"0s\"",
        ]);
        assert_error(&e, "jobmanager.stop_grace", &["no time", "zookeeper.session_timeout to at least"]);
    }

    #[test]
    fn connect_timeout_not_below_session_timeout_is_an_error() {
        for connect in ["10s", "12s"] {
            let e = error(&[&format!("zookeeper.connect_timeout = {connect:?}")]);
            assert_error(&e, "zookeeper.connect_timeout", &["zookeeper.session_timeout", "not shorter"]);
        }
    }

    #[test]
    fn session_timeout_not_below_budget_is_an_error() {
        let e = error(&["zookeeper.session_timeout = \"30s\"", "failover.budget = \"30s\""]);
        assert_error(&e, "failover.budget", &["zookeeper.session_timeout", "crashed leader", "never"]);
        assert_eq!(e.kind(), ConfigErrorKind::Timing);
    }

    #[test]
    fn slow_start_that_could_overrun_the_budget_is_a_warning() {
        let w = warnings(&["jobmanager.start_timeout = \"21s\""]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].key, "jobmanager.start_timeout");
        assert!(w[0].message.contains("failover.budget"), "{}", w[0]);
        assert!(w[0].message.contains("at most 20s"), "{}", w[0]);
        assert!(w[0].to_string().starts_with("jobmanager.start_timeout: "));
        assert!(warnings(&["jobmanager.start_timeout = \"20s\""]).is_empty());
    }

    #[test]
    fn session_timeout_a_default_server_would_clamp_is_a_warning() {
        let w = warnings(&[
            "zookeeper.session_timeout = \"3s\"",
            "zookeeper.connect_timeout = \"1s\"",
            "jobmanager.stop_grace = \"200ms\"",
            "jobmanager.start_timeout = \"10s\"",
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].key, "zookeeper.session_timeout");
        assert!(w[0].message.contains("raise"), "{}", w[0]);

        let w = warnings(&[
            "zookeeper.session_timeout = \"45s\"",
            "failover.budget = \"60s\"",
            "jobmanager.start_timeout = \"10s\"",
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].key, "zookeeper.session_timeout");
        assert!(w[0].message.contains("lower"), "{}", w[0]);

        for session in ["4s", "20s"] {
            let w = warnings(&[
                &format!("zookeeper.session_timeout = {session:?}"),
                "zookeeper.connect_timeout = \"1s\"",
                "jobmanager.stop_grace = \"1s\"",
                "jobmanager.start_timeout = \"5s\"",
            ]);
            assert!(w.is_empty(), "{session}: {w:?}");
        }
    }

    // ----- the environment -----

    #[test]
    fn environment_overrides_the_file() {
        let s = load_env(
            &[
                "zookeeper.session_timeout = \"8s\"",
                "node.id = \"jm1\"",
                "jobmanager.env.FLINK_CONF_DIR = \"/etc/flink\"",
            ],
            &[
                ("FHS_ZOOKEEPER__SESSION_TIMEOUT", "4s"),
                ("FHS_JOBMANAGER__STOP_GRACE", "1s"),
                ("FHS_NODE__ID", "jm2"),
                ("FHS_ZOOKEEPER__QUORUM", "zk9:2181/x"),
                ("FHS_JOBMANAGER__HEALTH_FAILURES", "5"),
                ("FHS_JOBMANAGER__COMMAND", " /opt/f/bin/jobmanager.sh \t start-foreground "),
                ("FHS_JOBMANAGER__ENV__JAVA_HOME", "/usr/lib/jvm/java-17"),
                ("FHS_JOBMANAGER__LOG_FILE", "/var/log/jm.out"),
                ("PATH", "/usr/bin"),
            ],
        );
        assert_eq!(s.zookeeper.session_timeout, secs(4));
        assert_eq!(s.jobmanager.stop_grace, secs(1));
        assert_eq!(s.node.id, "jm2");
        assert_eq!(s.zookeeper.quorum, "zk9:2181/x");
        assert_eq!(s.jobmanager.health_failures, 5);
        assert_eq!(s.jobmanager.command, ["/opt/f/bin/jobmanager.sh", "start-foreground"]);
        // The variable's name keeps its case, and the file's entries stay.
        let env: Vec<(&str, &str)> = s.jobmanager.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(env, [("FLINK_CONF_DIR", "/etc/flink"), ("JAVA_HOME", "/usr/lib/jvm/java-17")]);
        assert_eq!(s.jobmanager.log_file, Some(PathBuf::from("/var/log/jm.out")));
    }

    #[test]
    fn environment_alone_can_supply_required_keys() {
        let (s, _) = load_text("", &[("FHS_ZOOKEEPER__QUORUM", "zk1:2181"), ("FLINK_HOME", "/opt/flink")]).unwrap();
        assert_eq!(s.zookeeper.quorum, "zk1:2181");
        assert_eq!(s.jobmanager.command[0], "/opt/flink/bin/jobmanager.sh");
    }

    #[test]
    fn environment_variable_names_are_case_insensitive() {
        let s = load_env(&[], &[("fhs_node__id", "jm3"), ("Fhs_Jobmanager__Restart_Limit", "1")]);
        assert_eq!(s.node.id, "jm3");
        assert_eq!(s.jobmanager.restart_limit, 1);
    }

    #[test]
    fn empty_environment_variable_counts_as_unset() {
        let s = load_env(&["node.id = \"jm1\""], &[("FHS_NODE__ID", "")]);
        assert_eq!(s.node.id, "jm1");
    }

    #[test]
    fn single_underscore_variable_is_an_unknown_key_with_a_hint() {
        let e = error_env(&[], &[("FHS_ZOOKEEPER_SESSION_TIMEOUT", "4s")]);
        assert_error(
            &e,
            "zookeeper_session_timeout",
            &[
                "set by FHS_ZOOKEEPER_SESSION_TIMEOUT",
                "unknown key",
                "did you mean `zookeeper.session_timeout`, set by FHS_ZOOKEEPER__SESSION_TIMEOUT?",
            ],
        );
        assert_eq!(e.env_var(), Some("FHS_ZOOKEEPER_SESSION_TIMEOUT"));
        let e = error_env(&[], &[("FHS_ZOOKEEPER__SESION_TIMEOUT", "4s")]);
        assert_error(&e, "zookeeper.sesion_timeout", &["FHS_ZOOKEEPER__SESION_TIMEOUT"]);
    }

    #[test]
    fn jobmanager_env_variable_names_from_the_environment_are_checked() {
        let e = error_env(&[], &[("FHS_JOBMANAGER__ENV__A.B", "1")]);
        assert_error(&e, "jobmanager.env.A.B", &["(set by FHS_JOBMANAGER__ENV__A.B)", "[jobmanager.env]"]);
    }

    #[test]
    fn errors_about_environment_values_name_the_variable() {
        let e = error_env(&[], &[("FHS_ZOOKEEPER__SESSION_TIMEOUT", "4")]);
        assert_error(&e, "zookeeper.session_timeout", &["(set by FHS_ZOOKEEPER__SESSION_TIMEOUT)", "\"4\"", "\"4s\""]);
        let e = error_env(&[], &[("FHS_JOBMANAGER__HEALTH_FAILURES", "yes")]);
        assert_error(&e, "jobmanager.health_failures", &["FHS_JOBMANAGER__HEALTH_FAILURES", "whole number"]);
        let e = error_env(&[], &[("FHS_ELECTION__PATH", "flink/leader")]);
        assert_error(&e, "election.path", &["(set by FHS_ELECTION__PATH)", "relative"]);
        let e = error_env(&[], &[("FHS_JOBMANAGER__COMMAND", "   ")]);
        assert_error(&e, "jobmanager.command", &["FHS_JOBMANAGER__COMMAND", "must name a program"]);
        let e = error_env(&[], &[("FHS_ZOOKEEPER__SESSION_TIMEOUT", "30s")]);
        assert_error(&e, "failover.budget", &["zookeeper.session_timeout"]);
    }

    #[test]
    fn environment_override_can_fix_a_bad_file_value() {
        let s = load_env(&["jobmanager.stop_grace = \"9s\""], &[("FHS_JOBMANAGER__STOP_GRACE", "2s")]);
        assert_eq!(s.jobmanager.stop_grace, secs(2));
    }

    // ----- serialization -----

    #[test]
    fn settings_serialize_durations_as_humantime_and_round_trip() {
        let s = load(&["jobmanager.stop_grace = \"2500ms\""]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["zookeeper"]["session_timeout"], "10s");
        assert_eq!(json["jobmanager"]["stop_grace"], "2s 500ms");
        assert_eq!(json["jobmanager"]["restart_window"], "5m");
        assert!(json["jobmanager"].get("log_file").is_none());
        let back: Settings = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn env_var_names_follow_the_documented_form() {
        assert_eq!(env_var_name("zookeeper.session_timeout"), "FHS_ZOOKEEPER__SESSION_TIMEOUT");
        assert_eq!(known_keys().len(), 38);
    }

    #[test]
    fn hooks_are_optional_argv_lists_with_a_timeout() {
        let h = load(&[]).hooks;
        assert_eq!((h.on_leader, h.on_standby, h.timeout), (None, None, secs(10)));
        let h = load(&[
            "hooks.on_leader = [\"/usr/local/bin/vip\", \"up\"]",
            "hooks.on_standby = [\"/usr/local/bin/vip\", \"down\"]",
            "hooks.timeout = \"3s\"",
        ])
        .hooks;
        assert_eq!(h.on_leader, Some(vec!["/usr/local/bin/vip".to_string(), "up".to_string()]));
        assert_eq!(h.on_standby, Some(vec!["/usr/local/bin/vip".to_string(), "down".to_string()]));
        assert_eq!(h.timeout, secs(3));
        // From the environment, split on whitespace like jobmanager.command.
        let h = load_env(&[], &[("FHS_HOOKS__ON_LEADER", " /bin/page  oncall "), ("FHS_HOOKS__TIMEOUT", "1s")]).hooks;
        assert_eq!(h.on_leader, Some(vec!["/bin/page".to_string(), "oncall".to_string()]));
        assert_eq!(h.timeout, secs(1));
    }

    #[test]
    fn bad_hooks_are_refused_naming_the_key() {
        for hook in ["[]", "[\"\"]"] {
            let e = error(&[&format!("hooks.on_standby = {hook}")]);
            assert_error(&e, "hooks.on_standby", &["must name a program", "remove the key"]);
        }
        let e = error(&["hooks.on_leader = \"/bin/vip up\""]);
        assert_error(&e, "hooks.on_leader", &["list of strings"]);
        let e = error(&["hooks.timeout = \"0s\""]);
        assert_error(&e, "hooks.timeout", &["longer than zero"]);
        let e = error(&["hooks.timeout = 5"]);
        assert_error(&e, "hooks.timeout", &["no unit"]);
        let e = error(&["hooks.on_leder = [\"x\"]"]);
        assert_error(&e, "hooks.on_leder", &["did you mean `hooks.on_leader`"]);
    }

    #[test]
    fn http_listen_defaults_to_loopback_and_can_be_turned_off() {
        let on = load(&[]).http;
        assert_eq!(on.listen, DEFAULT_HTTP_LISTEN);
        assert_eq!(on.listen_addr(), Ok(Some("127.0.0.1:9249".parse().unwrap())));
        for off in ["", "off"] {
            assert_eq!(load(&[&format!("http.listen = {off:?}")]).http.listen_addr(), Ok(None));
        }
        // An empty variable counts as unset, so the environment turns it off with "off".
        assert_eq!(load_env(&[], &[("FHS_HTTP__LISTEN", "off")]).http.listen_addr(), Ok(None));
        let s = load_env(&[], &[("FHS_HTTP__LISTEN", "[::]:9250")]);
        assert_eq!(s.http.listen_addr(), Ok(Some("[::]:9250".parse().unwrap())));
    }

    #[test]
    fn an_unparsable_http_listen_is_refused() {
        for (listen, word) in [
            ("localhost:9249", "host name"),
            ("127.0.0.1", "ip:port"),
            ("127.0.0.1:0", "port 0"),
            ("127.0.0.1:99999", "ip:port"),
            (" 127.0.0.1:9249", "ip:port"),
        ] {
            let e = error(&[&format!("http.listen = {listen:?}")]);
            assert_error(&e, "http.listen", &[word, "127.0.0.1:9249", "turn the endpoint off"]);
        }
        let e = error(&["http.listen = 9249"]);
        assert_error(&e, "http.listen", &["string"]);
    }

    #[test]
    fn the_audit_file_is_optional_and_settable_from_the_environment() {
        assert_eq!(load(&[]).log.audit_file, None);
        let s = load(&["log.audit_file = \"/var/log/fhs/audit.jsonl\""]);
        assert_eq!(s.log.audit_file, Some(PathBuf::from("/var/log/fhs/audit.jsonl")));
        let s = load_env(&[], &[("FHS_LOG__AUDIT_FILE", "/tmp/a.jsonl")]);
        assert_eq!(s.log.audit_file, Some(PathBuf::from("/tmp/a.jsonl")));
        let e = error(&["log.audit_file = \"\""]);
        assert_error(&e, "log.audit_file", &["must not be empty"]);
    }
}

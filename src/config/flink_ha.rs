//! The `[flink]` section: Flink's own high-availability configuration, which the daemon owns,
//! its defaults and its validation rules.
//!
//! [`FlinkSettings`] is the section as written (unset keys that default to another setting are
//! `None`); [`HaConfig::resolve`] applies the defaults and the rules and returns the effective,
//! validated model that `crate::flink::render` turns into Flink's `config.yaml`. Every refusal is a one-line
//! [`ConfigError`] naming the key and the fix, like the rest of the configuration
//! (docs/configuration.md, section `[flink]`).

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{check_quorum, check_znode_path};
use super::{server_session_range, ConfigError, ConfigErrorKind, ConfigWarning, Settings};
use flink_ha_core::walltime::format_duration;

/// The longest `flink.failover_timeout`: the daemon promises that a standby takes over within 30 s.
pub(crate) const MAX_FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// The fewest JobManager hosts: with one there is nothing to fail over to.
pub(crate) const MIN_JOBMANAGERS: u32 = 2;

/// The default `flink.base_config`, relative to `FLINK_HOME`.
pub(crate) const FLINK_HOME_BASE_CONFIG: &str = "conf/config.yaml";

/// The default `flink.conf_dir`: a state directory (systemd's `StateDirectory=flink-ha-supervisor`).
pub(crate) const DEFAULT_CONF_DIR: &str = "/var/lib/flink-ha-supervisor/flink-conf";

/// The environment variable that points Flink's scripts at the rendered configuration.
pub(crate) const FLINK_CONF_DIR_VAR: &str = "FLINK_CONF_DIR";

/// The file name Flink 2.x reads in `FLINK_CONF_DIR`.
pub(crate) const CONFIG_FILE_NAME: &str = "config.yaml";

/// Default of `flink.zookeeper_session_timeout`: long enough that a paused JobManager (a long
/// GC, a 10 s SIGSTOP) or a ZooKeeper blip (the ensemble's leader stopped, a server restart)
/// keeps Flink's session, and within the 40 s a server with tickTime 2000 grants. It does not
/// bound a failover: the new leader deletes a dead JobManager's Flink latch (docs/ARCHITECTURE.md).
pub(crate) const DEFAULT_FLINK_SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// `[flink]` as written in the file (or the environment). Optional as a whole: without it, or
/// with `enabled = false` or `mode = "none"`, the daemon renders nothing and runs the
/// JobManager with the environment it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlinkSettings {
    /// Whether the daemon configures Flink's own HA services (job graphs and checkpoints in
    /// `storage_dir`, pointers in ZooKeeper), so that a new JobManager resumes the jobs of the
    /// old one. Default false.
    pub enabled: bool,
    /// `zookeeper`, `kubernetes` or `none` ([`HaMode`]). Default "zookeeper".
    pub mode: String,
    /// Flink's ZooKeeper connect string, `host:port[,host:port...][/chroot]`. Default: the
    /// daemon's own `zookeeper.quorum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper_quorum: Option<String>,
    /// `high-availability.zookeeper.path.root`, below the quorum's chroot. Default "/flink".
    pub zookeeper_path_root: String,
    /// `high-availability.cluster-id`: Flink keeps its nodes under `<path_root>/<cluster_id>`.
    /// Default "default" (Flink's own default, `/default`).
    pub cluster_id: String,
    /// `kubernetes.namespace` (mode kubernetes). No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_namespace: Option<String>,
    /// `kubernetes.cluster-id` (mode kubernetes). No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_cluster_id: Option<String>,
    /// `high-availability.storageDir`: shared storage every JobManager host reaches. Required
    /// when enabled; a path without a scheme gets `file://`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_dir: Option<String>,
    /// How many JobManager hosts (each running this daemon) there are; at least 2. Default 2.
    pub jobmanager_count: u32,
    /// Longest acceptable time from a JobManager failure until Flink serves again: more than
    /// zero and at most 30 s ([`MAX_FAILOVER_TIMEOUT`]). Default:
    /// `failover.budget`, at most 30 s.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub failover_timeout: Option<Duration>,
    /// `high-availability.zookeeper.client.session-timeout`. Default 30 s
    /// ([`DEFAULT_FLINK_SESSION_TIMEOUT`]; not Flink's 60 s, which a default server clamps to 40 s).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub zookeeper_session_timeout: Option<Duration>,
    /// `high-availability.zookeeper.client.connection-timeout`. Default: the daemon's own
    /// `zookeeper.connect_timeout`.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub zookeeper_connection_timeout: Option<Duration>,
    /// The user's Flink 2.x `config.yaml` that the generated keys are merged into; the other
    /// files of its directory (log4j properties) are copied beside the rendered one. Default
    /// `$FLINK_HOME/conf/config.yaml` when `FLINK_HOME` is set; without one, only the generated
    /// keys are written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_config: Option<PathBuf>,
    /// Where the rendered `config.yaml` goes; `FLINK_CONF_DIR` of the JobManager. Default
    /// "/var/lib/flink-ha-supervisor/flink-conf".
    pub conf_dir: PathBuf,
    /// Flink's own JAAS file: a `Client` section logging Flink's ZooKeeper client in with SASL
    /// DIGEST-MD5 as Flink's own user (not the daemons'), through Flink's shaded
    /// `DigestLoginModule`. Rendered as `-Djava.security.auth.login.config` together with
    /// `high-availability.zookeeper.client.acl: creator`. Required when `zookeeper.auth` is on
    /// and Flink shares the daemons' ensemble. No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper_jaas_file: Option<PathBuf>,
    /// Flink's own TLS client certificate and its PKCS#8 key in one PEM file (not the daemons'),
    /// used when `zookeeper.tls_ca_file` is set and Flink shares the daemons' ensemble. No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper_tls_keystore: Option<PathBuf>,
}

impl Default for FlinkSettings {
    fn default() -> Self {
        FlinkSettings {
            enabled: false,
            mode: HaMode::ZooKeeper.as_str().to_string(),
            zookeeper_quorum: None,
            zookeeper_path_root: "/flink".to_string(),
            cluster_id: "default".to_string(),
            kubernetes_namespace: None,
            kubernetes_cluster_id: None,
            storage_dir: None,
            jobmanager_count: MIN_JOBMANAGERS,
            failover_timeout: None,
            zookeeper_session_timeout: None,
            zookeeper_connection_timeout: None,
            base_config: None,
            conf_dir: PathBuf::from(DEFAULT_CONF_DIR),
            zookeeper_jaas_file: None,
            zookeeper_tls_keystore: None,
        }
    }
}

/// Flink's HA mode: zookeeper, kubernetes or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HaMode {
    /// Flink's ZooKeeper HA services; the daemons elect which host runs the JobManager.
    ZooKeeper,
    /// Flink's native Kubernetes HA services; Flink itself elects among JobManager pods.
    Kubernetes,
    /// No HA services: a new JobManager starts without the old one's jobs.
    None,
}

impl HaMode {
    /// Parses a mode, ignoring ASCII case; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<HaMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zookeeper" => Some(HaMode::ZooKeeper),
            "kubernetes" => Some(HaMode::Kubernetes),
            "none" => Some(HaMode::None),
            _ => None,
        }
    }

    /// The name in the configuration (and, upper-cased, Flink's `high-availability.type`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HaMode::ZooKeeper => "zookeeper",
            HaMode::Kubernetes => "kubernetes",
            HaMode::None => "none",
        }
    }
}

impl fmt::Display for HaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flink's ZooKeeper HA settings, effective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZooKeeperHa {
    /// The quorum's hosts, without a chroot: `host:port[,host:port...]`.
    pub hosts: String,
    /// True when `hosts` is the daemon's own ensemble (`flink.zookeeper_quorum` unset or naming
    /// the same servers).
    pub same_ensemble_as_daemon: bool,
    /// The quorum's chroot ("" for none). Flink gets it as part of its path root.
    pub chroot: String,
    /// `flink.zookeeper_path_root` as written.
    pub path_root: String,
    /// The cluster id without a leading '/'.
    pub cluster_id: String,
    /// Flink's session timeout.
    pub session_timeout: Duration,
    /// Flink's connection timeout.
    pub connection_timeout: Duration,
    /// How Flink's own ZooKeeper client logs in and connects.
    pub security: FlinkZkSecurity,
}

/// How Flink's own ZooKeeper client is protected: its identity (with which it creates its nodes
/// under the `creator` ACL) and TLS. Both are JVM system properties of every Flink process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlinkZkSecurity {
    /// SASL DIGEST-MD5 through Flink's own JAAS file.
    pub sasl: Option<FlinkSasl>,
    /// TLS to the servers' secure client port.
    pub tls: Option<FlinkTls>,
}

/// Flink's SASL login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlinkSasl {
    /// `flink.zookeeper_jaas_file`.
    pub jaas_file: PathBuf,
    /// The user name of its `Client` section (`sasl:<user>` in ZooKeeper's ACLs).
    pub user: String,
}

/// Flink's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlinkTls {
    /// The CA bundle the servers' certificates are checked against (`zookeeper.tls_ca_file`).
    pub ca_file: PathBuf,
    /// `flink.zookeeper_tls_keystore`: Flink's own certificate and key, if the servers ask for one.
    pub keystore: Option<PathBuf>,
}

impl ZooKeeperHa {
    /// The root as Flink sees it, an absolute path on the server: the chroot, then `path_root`.
    pub(crate) fn server_path_root(&self) -> String {
        format!("{}{}", self.chroot, self.path_root)
    }

    /// Where Flink keeps its nodes, as an absolute path on the server: `<chroot><root>/<cluster_id>`.
    pub(crate) fn server_ha_path(&self) -> String {
        join_znode(&self.server_path_root(), &self.cluster_id)
    }

    /// The JobManager's leader latch of Flink (`<root>/<cluster_id>/leader/latch`) as a path
    /// of a session on `daemon_quorum`: `None` when Flink's quorum is another ensemble or its
    /// tree lies outside the daemon's chroot.
    pub(crate) fn latch_path_in(&self, daemon_quorum: &str) -> Option<String> {
        if !self.same_ensemble_as_daemon {
            return None;
        }
        let server = format!("{}/leader/latch", self.server_ha_path());
        let chroot = super::values::chroot_of(daemon_quorum);
        if chroot.is_empty() {
            return Some(server);
        }
        server.strip_prefix(chroot).filter(|rest| rest.starts_with('/')).map(str::to_string)
    }
}

/// Flink's Kubernetes HA settings, effective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KubernetesHa {
    /// `kubernetes.namespace`.
    pub namespace: String,
    /// `kubernetes.cluster-id`.
    pub cluster_id: String,
}

/// The mode-specific part of [`HaConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModeSettings {
    /// Mode zookeeper.
    ZooKeeper(ZooKeeperHa),
    /// Mode kubernetes.
    Kubernetes(KubernetesHa),
}

/// The effective, validated HA configuration (`[flink]` after its defaults and rules): what the
/// daemon renders into Flink's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HaConfig {
    /// ZooKeeper or Kubernetes, with their settings.
    pub mode: ModeSettings,
    /// `high-availability.storageDir`, with a scheme.
    pub storage_dir: String,
    /// The number of JobManager hosts (at least 2).
    pub jobmanager_count: u32,
    /// The failover timeout (more than zero, at most 30 s).
    pub failover_timeout: Duration,
    /// The base `config.yaml`, if any.
    pub base_config: Option<PathBuf>,
    /// Where the rendered configuration goes.
    pub conf_dir: PathBuf,
}

impl HaConfig {
    /// Applies the defaults and the rules of `[flink]` to `settings.flink`. `Ok(None)` when Flink's HA
    /// is off (`enabled = false` or `mode = "none"`); the warnings are for the caller to log.
    pub(crate) fn resolve(settings: &Settings) -> Result<(Option<HaConfig>, Vec<ConfigWarning>), ConfigError> {
        let f = &settings.flink;
        let mut warnings = Vec::new();
        let Some(mode) = HaMode::parse(&f.mode) else {
            return Err(ConfigError::invalid(
                "flink.mode",
                format!("{:?} is not an HA mode; set it to \"zookeeper\", \"kubernetes\" or \"none\"", f.mode),
            ));
        };
        if !f.enabled {
            return Ok((None, warnings));
        }
        if mode == HaMode::None {
            warnings.push(warning(
                "flink.mode",
                "\"none\" turns Flink's HA services off although flink.enabled = true: a new JobManager will not resume the jobs of the old one; set flink.mode = \"zookeeper\" or flink.enabled = false",
            ));
            return Ok((None, warnings));
        }

        if f.jobmanager_count < MIN_JOBMANAGERS {
            return Err(ConfigError::invalid(
                "flink.jobmanager_count",
                format!(
                    "{} is fewer than {MIN_JOBMANAGERS}: with one JobManager host there is no standby to take over; run this daemon on at least {MIN_JOBMANAGERS} hosts and set it to their number",
                    f.jobmanager_count
                ),
            ));
        }

        let budget = settings.failover.budget;
        let failover_timeout = f.failover_timeout.unwrap_or(budget.min(MAX_FAILOVER_TIMEOUT));
        if failover_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "flink.failover_timeout",
                "must be longer than zero; set a duration such as \"30s\", or remove it to use failover.budget",
            ));
        }
        if failover_timeout > MAX_FAILOVER_TIMEOUT {
            return Err(ConfigError::invalid(
                "flink.failover_timeout",
                format!(
                    "{} is over {}: the daemon promises that a standby takes over within 30 s; set it to at most \"30s\"",
                    format_duration(failover_timeout),
                    format_duration(MAX_FAILOVER_TIMEOUT)
                ),
            ));
        }

        let storage_dir = storage_dir(f.storage_dir.as_deref(), &mut warnings)?;
        let (base_config, conf_dir) = paths(settings, &mut warnings)?;

        let mode = match mode {
            HaMode::ZooKeeper => ModeSettings::ZooKeeper(zookeeper(settings, &mut warnings)?),
            HaMode::Kubernetes => ModeSettings::Kubernetes(kubernetes(f, &mut warnings)?),
            HaMode::None => unreachable!("handled above"),
        };
        let ha = HaConfig {
            mode,
            storage_dir,
            jobmanager_count: f.jobmanager_count,
            failover_timeout,
            base_config,
            conf_dir,
        };
        Ok((Some(ha), warnings))
    }

    /// The mode.
    pub(crate) fn ha_mode(&self) -> HaMode {
        match self.mode {
            ModeSettings::ZooKeeper(_) => HaMode::ZooKeeper,
            ModeSettings::Kubernetes(_) => HaMode::Kubernetes,
        }
    }

    /// `[flink]` with every default filled in, for `check-config`.
    pub(crate) fn effective(&self, written: &FlinkSettings) -> FlinkSettings {
        let mut f = written.clone();
        f.mode = self.ha_mode().as_str().to_string();
        f.storage_dir = Some(self.storage_dir.clone());
        f.failover_timeout = Some(self.failover_timeout);
        f.base_config = self.base_config.clone();
        f.conf_dir = self.conf_dir.clone();
        match &self.mode {
            ModeSettings::ZooKeeper(zk) => {
                f.zookeeper_quorum = Some(format!("{}{}", zk.hosts, zk.chroot));
                f.cluster_id = zk.cluster_id.clone();
                f.zookeeper_session_timeout = Some(zk.session_timeout);
                f.zookeeper_connection_timeout = Some(zk.connection_timeout);
            }
            ModeSettings::Kubernetes(k8s) => {
                f.kubernetes_namespace = Some(k8s.namespace.clone());
                f.kubernetes_cluster_id = Some(k8s.cluster_id.clone());
            }
        }
        f
    }
}

fn warning(key: &str, message: impl Into<String>) -> ConfigWarning {
    ConfigWarning { key: key.to_string(), message: message.into() }
}

/// The storage directory with a scheme. A bare absolute path gets `file://` (with a warning).
fn storage_dir(written: Option<&str>, warnings: &mut Vec<ConfigWarning>) -> Result<String, ConfigError> {
    const KEY: &str = "flink.storage_dir";
    let Some(dir) = written else {
        return Err(ConfigError::new(
            ConfigErrorKind::Missing,
            KEY,
            "required when flink.enabled = true: Flink keeps the job graphs and checkpoint metadata a new JobManager recovers from there; set it to storage every JobManager host shares, e.g. \"hdfs:///flink/ha\", \"s3://bucket/flink/ha\" or \"file:///mnt/nfs/flink/ha\"",
        ));
    };
    let dir = dir.trim();
    if dir.is_empty() {
        return Err(ConfigError::invalid(
            KEY,
            "must not be empty; set it to shared storage, e.g. \"hdfs:///flink/ha\" or \"file:///mnt/nfs/flink/ha\"",
        ));
    }
    if dir.chars().any(char::is_control) {
        return Err(ConfigError::invalid(KEY, format!("{dir:?} contains a control character; remove it")));
    }
    if has_scheme(dir) {
        return Ok(dir.to_string());
    }
    if !dir.starts_with('/') {
        return Err(ConfigError::invalid(
            KEY,
            format!(
                "{dir:?} is a relative path without a scheme, which each JobManager would resolve against its own working directory; write an absolute path or a URI, e.g. \"file:///mnt/nfs/flink/ha\""
            ),
        ));
    }
    let with_scheme = format!("file://{dir}");
    warnings.push(warning(
        KEY,
        format!(
            "{dir:?} has no scheme; using {with_scheme:?}. A local path is shared only if it is the same network mount (e.g. NFS) on every JobManager host; write the URI to silence this"
        ),
    ));
    Ok(with_scheme)
}

/// `scheme:` per RFC 3986 (a letter, then letters, digits, '+', '-', '.'), followed by a path
/// or an authority.
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

/// `flink.base_config` and `flink.conf_dir`, and the conflict with a hand-set FLINK_CONF_DIR.
fn paths(settings: &Settings, warnings: &mut Vec<ConfigWarning>) -> Result<(Option<PathBuf>, PathBuf), ConfigError> {
    let f = &settings.flink;
    if settings.jobmanager.env.contains_key(FLINK_CONF_DIR_VAR) {
        return Err(ConfigError::invalid(
            format!("jobmanager.env.{FLINK_CONF_DIR_VAR}"),
            "with flink.enabled = true the daemon points FLINK_CONF_DIR at flink.conf_dir, where it writes the rendered configuration; remove this entry and set flink.base_config to the config.yaml it pointed at",
        ));
    }
    if f.conf_dir.as_os_str().is_empty() {
        return Err(ConfigError::invalid(
            "flink.conf_dir",
            format!("must not be empty; set the directory the rendered config.yaml goes to, e.g. {DEFAULT_CONF_DIR:?}"),
        ));
    }
    if f.conf_dir.is_relative() {
        return Err(ConfigError::invalid(
            "flink.conf_dir",
            format!(
                "{:?} is relative; write an absolute directory, e.g. {DEFAULT_CONF_DIR:?}",
                f.conf_dir.display().to_string()
            ),
        ));
    }
    let conf_dir = normalize(&f.conf_dir);
    let base = match &f.base_config {
        Some(base) if base.as_os_str().is_empty() => {
            return Err(ConfigError::invalid(
                "flink.base_config",
                "must not be empty; set the path of your Flink config.yaml or remove the key",
            ))
        }
        Some(base) => {
            if base.parent().map(normalize).as_deref() == Some(conf_dir.as_path()) {
                return Err(ConfigError::invalid(
                    "flink.conf_dir",
                    format!(
                        "{:?} is the directory of flink.base_config: rendering would overwrite the base; choose another directory, e.g. {DEFAULT_CONF_DIR:?}",
                        conf_dir.display().to_string()
                    ),
                ));
            }
            Some(base.clone())
        }
        None => {
            warnings.push(warning(
                "flink.base_config",
                "not set and FLINK_HOME is unset: the rendered config.yaml holds only the generated keys (Flink's defaults for the rest, no log4j files); set it to your Flink's conf/config.yaml",
            ));
            None
        }
    };
    Ok((base, conf_dir))
}

/// Removes `.` segments and resolves `..` lexically (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn zookeeper(settings: &Settings, warnings: &mut Vec<ConfigWarning>) -> Result<ZooKeeperHa, ConfigError> {
    let f = &settings.flink;
    let quorum = f.zookeeper_quorum.as_deref().unwrap_or(&settings.zookeeper.quorum);
    if quorum.trim().is_empty() {
        return Err(ConfigError::new(
            ConfigErrorKind::Missing,
            "flink.zookeeper_quorum",
            "required in mode zookeeper but empty; remove the key to use zookeeper.quorum, or set host:port[,host:port...][/chroot]",
        ));
    }
    check_quorum(quorum).map_err(|problem| {
        ConfigError::invalid(
            "flink.zookeeper_quorum",
            format!("{problem}; set it to host:port[,host:port...][/chroot], or remove it to use zookeeper.quorum"),
        )
    })?;
    check_znode_path(&f.zookeeper_path_root).map_err(|problem| {
        ConfigError::invalid(
            "flink.zookeeper_path_root",
            format!("{problem}; set it to an absolute ZooKeeper path such as \"/flink\" (the default)"),
        )
    })?;
    let cluster_id = f.cluster_id.strip_prefix('/').unwrap_or(&f.cluster_id).to_string();
    check_znode_path(&format!("/{cluster_id}")).map_err(|problem| {
        ConfigError::invalid(
            "flink.cluster_id",
            format!(
                "{:?}: {problem}; set it to a name such as \"default\" that separates this Flink cluster from others under flink.zookeeper_path_root",
                f.cluster_id
            ),
        )
    })?;

    let (hosts, chroot) = split_quorum(quorum);
    let (daemon_hosts, daemon_chroot) = split_quorum(&settings.zookeeper.quorum);
    let zk = ZooKeeperHa {
        hosts: hosts.to_string(),
        same_ensemble_as_daemon: same_hosts(hosts, daemon_hosts),
        chroot: chroot.to_string(),
        path_root: f.zookeeper_path_root.clone(),
        cluster_id,
        session_timeout: f.zookeeper_session_timeout.unwrap_or(DEFAULT_FLINK_SESSION_TIMEOUT),
        connection_timeout: f.zookeeper_connection_timeout.unwrap_or(settings.zookeeper.connect_timeout),
        security: FlinkZkSecurity::default(),
    };
    let zk = ZooKeeperHa { security: flink_security(settings, zk.same_ensemble_as_daemon, warnings)?, ..zk };
    zookeeper_timing(&zk, settings, warnings)?;
    if zk.latch_path_in(&settings.zookeeper.quorum).is_none() && zk.session_timeout >= settings.failover.budget {
        // The daemons cannot delete a dead JobManager's latch on another ensemble (or chroot):
        // Flink's election of the next JobManager waits for that latch's session.
        warnings.push(warning(
            "flink.zookeeper_session_timeout",
            format!(
                "{} is not shorter than failover.budget ({}) while flink.zookeeper_quorum is not the daemons' own ensemble and chroot, so the daemons cannot delete a crashed JobManager's Flink latch and the next JobManager waits for its session; use the daemons' quorum, or set it well below the budget",
                format_duration(zk.session_timeout),
                format_duration(settings.failover.budget)
            ),
        ));
    }
    if zk.same_ensemble_as_daemon {
        check_paths_apart(&zk, &format!("{daemon_chroot}{}", settings.election.path))?;
    }
    for (key, set) in [
        ("flink.kubernetes_namespace", f.kubernetes_namespace.is_some()),
        ("flink.kubernetes_cluster_id", f.kubernetes_cluster_id.is_some()),
    ] {
        if set {
            warnings.push(warning(key, "is ignored in mode zookeeper; remove it"));
        }
    }
    Ok(zk)
}

/// Flink's ZooKeeper timeouts. Neither bounds a failover: the new leader deletes the Flink latch
/// a dead JobManager left, so Flink's own session timeout only says how long a paused
/// JobManager or a ZooKeeper blip keeps Flink's session, and a session above the servers' cap
/// (`zookeeper.max_session_timeout`) is refused: Flink would silently get only the cap.
fn zookeeper_timing(
    zk: &ZooKeeperHa,
    settings: &Settings,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let tick = settings.zookeeper.tick_time;
    const SESSION: &str = "flink.zookeeper_session_timeout";
    let (session, connection) = (zk.session_timeout, zk.connection_timeout);
    for (key, value) in [(SESSION, session), ("flink.zookeeper_connection_timeout", connection)] {
        if value.is_zero() {
            return Err(ConfigError::invalid(
                key,
                "must be longer than zero; set a duration, or remove the key to use the daemon's own",
            ));
        }
    }
    if connection >= session {
        return Err(ConfigError::timing(
            "flink.zookeeper_connection_timeout",
            format!(
                "{} is not shorter than flink.zookeeper_session_timeout ({}): a connection attempt could outlast the session it should keep; lower it below {}",
                format_duration(connection),
                format_duration(session),
                format_duration(session)
            ),
        ));
    }
    let (low, _) = server_session_range(tick);
    if session < low {
        warnings.push(warning(
            SESSION,
            format!(
                "{} is below the {} a ZooKeeper server with default session limits and tickTime {} (zookeeper.tick_time) grants; it will clamp the timeout Flink asks for",
                format_duration(session),
                format_duration(low),
                format_duration(tick)
            ),
        ));
    }
    let cap = settings.zookeeper.session_cap();
    if session > cap {
        let problem = format!(
            "{} is above the servers' maxSessionTimeout {} ({}): Flink would get only {}, and a JobManager pause longer than that restarts its jobs; raise maxSessionTimeout on the ZooKeeper servers to at least {} and set zookeeper.max_session_timeout to it, or lower flink.zookeeper_session_timeout to at most {}",
            format_duration(session),
            format_duration(cap),
            super::validate::cap_source(settings),
            format_duration(cap),
            format_duration(session),
            format_duration(cap)
        );
        if !zk.same_ensemble_as_daemon {
            // The cap is the daemon's servers'; Flink's own ensemble may grant more.
            warnings.push(warning(
                SESSION,
                format!("if flink.zookeeper_quorum's servers have the daemon's limits: {problem}"),
            ));
            return Ok(());
        }
        return Err(ConfigError::timing(SESSION, problem));
    }
    Ok(())
}

/// What the daemons' `[zookeeper]` security settings say, as far as Flink's side needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DaemonZkSecurity {
    /// `zookeeper.auth` is not "none".
    pub auth_on: bool,
    /// `zookeeper.user`, or with Kerberos the primary of `zookeeper.principal`.
    pub user: Option<String>,
    /// `zookeeper.auth = "kerberos"`.
    pub kerberos: bool,
    /// `zookeeper.tls_ca_file`.
    pub tls_ca_file: Option<PathBuf>,
    /// `zookeeper.tls_cert_file` and `zookeeper.tls_key_file`.
    pub tls_client_files: Vec<PathBuf>,
}

impl DaemonZkSecurity {
    /// Reads them from the settings.
    pub(crate) fn of(settings: &Settings) -> DaemonZkSecurity {
        let z = &settings.zookeeper;
        DaemonZkSecurity {
            auth_on: z.auth_on(),
            user: z.identity_name().map(str::to_string),
            kerberos: z.auth_mode() == Some(super::AuthMode::Kerberos),
            tls_ca_file: z.tls_ca_file.clone(),
            tls_client_files: z.tls_cert_file.iter().chain(z.tls_key_file.iter()).cloned().collect(),
        }
    }
}

/// Flink's identity and TLS: the JAAS file (required when the daemons authenticate on the same
/// ensemble, since Flink then creates its nodes with the creator ACL), the daemons' CA when they
/// use TLS on the same ensemble, and Flink's own client certificate.
fn flink_security(
    settings: &Settings,
    same_ensemble: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<FlinkZkSecurity, ConfigError> {
    const JAAS: &str = "flink.zookeeper_jaas_file";
    const KEYSTORE: &str = "flink.zookeeper_tls_keystore";
    let f = &settings.flink;
    let daemons = DaemonZkSecurity::of(settings);
    let sasl = match &f.zookeeper_jaas_file {
        Some(path) if daemons.kerberos && same_ensemble => {
            return Err(ConfigError::invalid(
                JAAS,
                format!(
                    "{}: a DIGEST-MD5 login, on the ensemble where the daemons log in with Kerberos: ZooKeeper servers whose JAAS Server section logs them in with Kerberos refuse DIGEST-MD5 (AuthFailed); give Flink a Kerberos login of its own in its config.yaml (security.kerberos.login.*, docs/configuration.md \"Kerberos\") and remove this key",
                    path.display()
                ),
            ));
        }
        Some(path) => {
            absolute(JAAS, path)?;
            let login = crate::flink::jaas::read_client_login(path)
                .map_err(|problem| ConfigError::invalid(JAAS, problem.to_string()))?;
            if daemons.auth_on && daemons.user.as_deref() == Some(login.user.as_str()) {
                return Err(ConfigError::invalid(
                    JAAS,
                    format!(
                        "{}: its user {:?} is zookeeper.user, the daemons' own identity; every TaskManager holds Flink's credentials, so with them it could write the daemons' nodes: give Flink a ZooKeeper user of its own",
                        path.display(),
                        login.user
                    ),
                ));
            }
            if !daemons.auth_on && same_ensemble {
                warnings.push(warning(
                    JAAS,
                    "set while zookeeper.auth = \"none\": Flink creates its nodes with the creator ACL, which the daemons (without an identity) cannot list, so a crashed JobManager's Flink latch holds up the next start for Flink's session timeout; set zookeeper.auth too",
                ));
            }
            Some(FlinkSasl { jaas_file: path.clone(), user: login.user })
        }
        None if daemons.kerberos && same_ensemble => {
            warnings.push(warning(
                JAAS,
                "unset while the daemons log in with Kerberos on Flink's ensemble: Flink logs in with its own security.kerberos.login.* keys (`Client` in security.kerberos.login.contexts), which the daemon passes through, and its HA nodes keep the open ACL, since the daemons render no creator ACL for a login they do not know (docs/configuration.md, \"Kerberos\")",
            ));
            None
        }
        None if daemons.auth_on && same_ensemble => {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                JAAS,
                "required when zookeeper.auth is on and Flink uses the daemons' ensemble: Flink's own HA client then creates its nodes with the creator ACL and needs a ZooKeeper identity of its own (not the daemons': every TaskManager holds it); write a JAAS file with a `Client` section (docs/configuration.md, \"Securing it\") and set its path",
            ));
        }
        None => None,
    };
    let tls = match (&daemons.tls_ca_file, same_ensemble) {
        (Some(ca), true) => {
            absolute("zookeeper.tls_ca_file", ca)?;
            let keystore = match &f.zookeeper_tls_keystore {
                Some(path) => {
                    absolute(KEYSTORE, path)?;
                    if daemons.tls_client_files.iter().any(|daemon| normalize(daemon) == normalize(path)) {
                        return Err(ConfigError::invalid(
                            KEYSTORE,
                            format!(
                                "{} is the daemons' own client certificate or key (zookeeper.tls_cert_file / tls_key_file); ZooKeeper makes a certificate an identity (x509:<subject>), and every TaskManager holds Flink's: give Flink a certificate of its own",
                                path.display()
                            ),
                        ));
                    }
                    private_file(KEYSTORE, path)?;
                    Some(path.clone())
                }
                None => {
                    if !daemons.tls_client_files.is_empty() {
                        warnings.push(warning(
                            KEYSTORE,
                            "not set while the daemons present a client certificate: if the servers ask for one (ssl.clientAuth=need, ZooKeeper's default), Flink's JobManager and TaskManagers cannot connect; set it to a PEM file with Flink's own certificate and key",
                        ));
                    }
                    None
                }
            };
            Some(FlinkTls { ca_file: ca.clone(), keystore })
        }
        _ => {
            if f.zookeeper_tls_keystore.is_some() {
                warnings.push(warning(
                    KEYSTORE,
                    "is ignored: Flink's TLS to ZooKeeper follows zookeeper.tls_ca_file on the daemons' ensemble; remove it, or add Flink's zookeeper.ssl.* system properties to env.java.opts.all yourself",
                ));
            }
            None
        }
    };
    Ok(FlinkZkSecurity { sasl, tls })
}

/// A path that goes into Flink's JVM options: absolute (every Flink process resolves it the
/// same way), and without a character Flink's scripts would split on or expand (they pass the
/// options through `eval`).
fn absolute(key: &str, path: &Path) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    if !path.is_absolute() {
        return Err(ConfigError::invalid(
            key,
            format!("{shown:?} is relative, and Flink's processes resolve it against their own working directories; write an absolute path"),
        ));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ',' | ':' | '@' | '%');
    if let Some(bad) = shown.chars().find(|c| !plain(*c)) {
        return Err(ConfigError::invalid(
            key,
            format!("{shown:?} holds {bad:?}, which Flink's scripts would split on or expand when they pass it to java; use a path of letters, digits and / . _ - + , : @ %"),
        ));
    }
    Ok(())
}

/// A file holding a secret: it must exist and grant nothing to group or others.
fn private_file(key: &str, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("{}: cannot read it: {e}; point it at Flink's PEM certificate and key", path.display()),
        )
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::invalid(
            key,
            format!("{}: readable by others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display()),
        ));
    }
    Ok(())
}

/// The election (and its leader record) and Flink's HA nodes must not nest: Flink's cleanup
/// removes empty parents under `<root>/<cluster_id>`, and Flink's nodes under the election
/// path would be foreign contenders.
fn check_paths_apart(zk: &ZooKeeperHa, election: &str) -> Result<(), ConfigError> {
    let flink = zk.server_ha_path();
    let record = flink_ha_core::failover::record_path(election);
    for (what, path) in [("election.path", election), ("its leader record", record.as_str())] {
        if is_under(path, &flink) {
            return Err(ConfigError::invalid(
                "election.path",
                format!(
                    "{what} {path:?} lies in Flink's HA tree {flink:?} (flink.zookeeper_path_root + flink.cluster_id), whose empty nodes Flink's own cleanup removes; move election.path outside it, e.g. \"/flink-ha-supervisor/leader\""
                ),
            ));
        }
    }
    if is_under(&flink, election) || is_under(&flink, &record) {
        return Err(ConfigError::invalid(
            "flink.zookeeper_path_root",
            format!(
                "Flink's HA tree {flink:?} lies under the election path {election:?}, where its nodes would sit among the contenders; choose a root outside it, e.g. \"/flink\""
            ),
        ));
    }
    Ok(())
}

/// `path` is `parent` or lies below it.
fn is_under(path: &str, parent: &str) -> bool {
    path == parent || path.strip_prefix(parent).is_some_and(|rest| rest.starts_with('/'))
}

fn join_znode(parent: &str, child: &str) -> String {
    format!("{}/{}", parent.trim_end_matches('/'), child.trim_start_matches('/'))
}

/// `hosts[/chroot]` -> (hosts, chroot or "").
pub(crate) fn split_quorum(quorum: &str) -> (&str, &str) {
    match quorum.find('/') {
        Some(i) => (&quorum[..i], &quorum[i..]),
        None => (quorum, ""),
    }
}

fn same_hosts(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        let mut v: Vec<String> = s.split(',').map(|h| h.trim().to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    set(a) == set(b)
}

fn kubernetes(f: &FlinkSettings, warnings: &mut Vec<ConfigWarning>) -> Result<KubernetesHa, ConfigError> {
    let required = |key: &str, value: &Option<String>, example: &str| match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(ConfigError::new(
            ConfigErrorKind::Missing,
            key,
            format!("required in mode kubernetes; set it, e.g. {example:?}"),
        )),
    };
    let namespace = required("flink.kubernetes_namespace", &f.kubernetes_namespace, "flink")?;
    let cluster_id = required("flink.kubernetes_cluster_id", &f.kubernetes_cluster_id, "flink-cluster-1")?;
    if !is_dns_label(&namespace, 63) {
        return Err(ConfigError::invalid(
            "flink.kubernetes_namespace",
            format!("{namespace:?} is not a Kubernetes namespace name (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit); set it, e.g. \"flink\""),
        ));
    }
    // Flink derives service names from the cluster id, hence its stricter rule (a letter first,
    // at most 45 characters).
    if !is_dns_label(&cluster_id, 45) || !cluster_id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(ConfigError::invalid(
            "flink.kubernetes_cluster_id",
            format!("{cluster_id:?} is not a valid Flink cluster id on Kubernetes (at most 45 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit); set it, e.g. \"flink-cluster-1\""),
        ));
    }
    let defaults = FlinkSettings::default();
    for (key, set) in [
        ("flink.zookeeper_quorum", f.zookeeper_quorum.is_some()),
        ("flink.zookeeper_session_timeout", f.zookeeper_session_timeout.is_some()),
        ("flink.zookeeper_connection_timeout", f.zookeeper_connection_timeout.is_some()),
        ("flink.zookeeper_path_root", f.zookeeper_path_root != defaults.zookeeper_path_root),
        ("flink.cluster_id", f.cluster_id != defaults.cluster_id),
    ] {
        if set {
            warnings.push(warning(
                key,
                "is ignored in mode kubernetes (flink.kubernetes_cluster_id names the cluster); remove it",
            ));
        }
    }
    Ok(KubernetesHa { namespace, cluster_id })
}

/// RFC 1123 label: lowercase letters, digits and '-', alphanumeric at both ends, at most `max`.
fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{assert_error, error, load, load_env, settings, ZK_SECTION};

    fn zk(extra: &str) -> ZooKeeperHa {
        match HaConfig::resolve(&settings(extra)).unwrap().0.unwrap().mode {
            ModeSettings::ZooKeeper(zk) => zk,
            other => panic!("{other:?}"),
        }
    }

    fn warnings(extra: &str) -> Vec<ConfigWarning> {
        load(extra).unwrap_or_else(|e| panic!("{extra}: {e}")).1
    }

    const ON: &str =
        "[flink]\nenabled = true\nstorage_dir = \"hdfs:///flink/ha\"\nbase_config = \"/etc/flink/config.yaml\"\n";

    #[test]
    fn the_election_path_must_not_lie_in_flinks_ha_tree() {
        for path in ["/flink/default", "/flink/default/leader", "/flink/default/a/b"] {
            let e = error(&format!("[election]\npath = {path:?}\n{ON}"));
            assert_error(&e, "election.path", &["/flink/default", "cleanup", "/flink-ha-supervisor/leader"]);
        }
        // Its leader record (`<path>-record`) neither.
        let e = error(&format!("[election]\npath = \"/flink/default/x\"\n{ON}"));
        assert_eq!(e.key(), "election.path");
        // Nor the other way round: Flink's tree under the election path.
        let e = error(&format!("[election]\npath = \"/flink\"\n{ON}"));
        assert_error(&e, "flink.zookeeper_path_root", &["\"/flink/default\"", "contenders"]);
        // Siblings are fine: the default election path /flink/leader beside /flink/default.
        assert_eq!(zk(ON).server_ha_path(), "/flink/default");
        settings(&format!("[election]\npath = \"/flink/defaults\"\n{ON}"));
    }

    #[test]
    fn paths_are_compared_on_the_server_with_the_chroots() {
        // The daemon's chroot applies to Flink too when it shares the quorum.
        let chroot = [("FHS_ZOOKEEPER__QUORUM", "zk1:2181/apps")];
        let (loaded, _) = load_env(ON, &chroot).unwrap();
        let ha = HaConfig::resolve(&loaded).unwrap().0.unwrap();
        let ModeSettings::ZooKeeper(z) = &ha.mode else { panic!() };
        assert_eq!(
            (z.hosts.as_str(), z.chroot.as_str(), z.server_path_root().as_str()),
            ("zk1:2181", "/apps", "/apps/flink")
        );
        // Flink on the same servers without the chroot, its root spelt out: the same tree.
        let e = load_env(
            &format!("[election]\npath = \"/flink/default/leader\"\n{ON}zookeeper_quorum = \"zk1:2181\"\nzookeeper_path_root = \"/apps/flink\"\n"),
            &chroot,
        )
        .unwrap_err();
        assert_eq!(e.key(), "election.path");
        // Another ensemble: no conflict possible.
        let other = format!("[election]\npath = \"/flink/default/leader\"\n{ON}zookeeper_quorum = \"zk9:2181\"\n");
        assert!(!zk(&other).same_ensemble_as_daemon);
    }

    #[test]
    fn flinks_session_timeout_defaults_to_30s_and_is_bounded() {
        let z = zk(ON);
        assert_eq!((z.session_timeout, z.connection_timeout), (Duration::from_secs(30), Duration::from_secs(3)));
        let env = [
            ("FHS_ZOOKEEPER__SESSION_TIMEOUT", "8s"),
            ("FHS_ZOOKEEPER__CONNECT_TIMEOUT", "2s"),
            ("FHS_JOBMANAGER__STOP_GRACE", "2s"),
        ];
        let ha = HaConfig::resolve(&load_env(ON, &env).unwrap().0).unwrap().0.unwrap();
        let ModeSettings::ZooKeeper(z) = ha.mode else { panic!() };
        assert_eq!((z.session_timeout, z.connection_timeout), (Duration::from_secs(30), Duration::from_secs(2)));
        // Longer than the daemon's and than the budget: fine, the new leader deletes dead latches.
        let (s30, w) = load(&format!(
            "[failover]\nbudget = \"25s\"\n{ON}failover_timeout = \"25s\"\nzookeeper_session_timeout = \"30s\"\n"
        ))
        .unwrap();
        assert!(w.iter().all(|w| w.key != "flink.zookeeper_session_timeout"), "{w:?}");
        assert!(HaConfig::resolve(&s30).is_ok());
        // A server with default settings clamps below 4 s.
        let w = warnings(&format!("{ON}zookeeper_session_timeout = \"3s\"\nzookeeper_connection_timeout = \"1s\"\n"));
        assert!(w.iter().any(|w| w.key == "flink.zookeeper_session_timeout" && w.message.contains("clamp")), "{w:?}");
        // The connection timeout must be shorter than the session timeout.
        let e = error(&format!("{ON}zookeeper_connection_timeout = \"30s\"\n"));
        assert_error(&e, "flink.zookeeper_connection_timeout", &["not shorter than flink.zookeeper_session_timeout"]);
        let e = error(&format!("{ON}zookeeper_session_timeout = \"0s\"\n"));
        assert_error(&e, "flink.zookeeper_session_timeout", &["longer than zero"]);
    }

    #[test]
    fn flinks_session_above_the_servers_cap_is_an_error() {
        let t500 = [
            ("FHS_ZOOKEEPER__TICK_TIME", "500ms"),
            ("FHS_ZOOKEEPER__SESSION_TIMEOUT", "2s"),
            ("FHS_ZOOKEEPER__CONNECT_TIMEOUT", "1s"),
            ("FHS_JOBMANAGER__STOP_GRACE", "100ms"),
        ];
        // tickTime 500 ms: the servers grant at most 10 s, so Flink's default 30 s is refused.
        let e = load_env(ON, &t500).unwrap_err();
        assert_error(&e, "flink.zookeeper_session_timeout", &[
            "30s is above the servers' maxSessionTimeout 10s",
            "20 × zookeeper.tick_time 500ms",
            "Flink would get only 10s, and a JobManager pause longer than that restarts its jobs",
            "raise maxSessionTimeout on the ZooKeeper servers to at least 30s and set zookeeper.max_session_timeout to it",
            "or lower flink.zookeeper_session_timeout to at most 10s",
        ]);
        assert_eq!(e.kind(), ConfigErrorKind::Timing);
        // Exactly the cap is granted in full.
        let at_cap = format!("{ON}zookeeper_session_timeout = \"10s\"\n");
        assert!(load_env(&at_cap, &t500).is_ok());
        // Servers whose maxSessionTimeout was raised, and the daemon told so.
        let mut raised = t500.to_vec();
        raised.push(("FHS_ZOOKEEPER__MAX_SESSION_TIMEOUT", "40s"));
        let (s, w) = load_env(ON, &raised).unwrap();
        assert_eq!(
            (s.zookeeper.max_session_timeout, s.zookeeper.session_cap()),
            (Some(Duration::from_secs(40)), Duration::from_secs(40))
        );
        assert!(w.iter().all(|w| w.key != "flink.zookeeper_session_timeout"), "{w:?}");
        let e = load_env(&format!("{ON}zookeeper_session_timeout = \"41s\"\n"), &raised).unwrap_err();
        assert_error(
            &e,
            "flink.zookeeper_session_timeout",
            &["41s is above the servers' maxSessionTimeout 40s (zookeeper.max_session_timeout)"],
        );
        // Flink on another ensemble: the daemon's servers' cap is only a warning.
        let other = format!("{ON}zookeeper_quorum = \"zk9:2181\"\n");
        let (_, w) = load_env(&other, &t500).unwrap();
        assert!(
            w.iter()
                .any(|w| w.key == "flink.zookeeper_session_timeout" && w.message.contains("Flink would get only 10s")),
            "{w:?}"
        );
    }

    #[test]
    fn the_cluster_id_and_root_are_znode_names() {
        assert_eq!(zk(&format!("{ON}cluster_id = \"/prod\"\n")).cluster_id, "prod");
        assert_eq!(zk(&format!("{ON}cluster_id = \"team/prod\"\n")).server_ha_path(), "/flink/team/prod");
        for bad in ["", "/", "a//b", "a/../b", "a/"] {
            assert_eq!(error(&format!("{ON}cluster_id = {bad:?}\n")).key(), "flink.cluster_id", "{bad:?}");
        }
        for bad in ["flink", "/", "/flink/"] {
            assert_eq!(error(&format!("{ON}zookeeper_path_root = {bad:?}\n")).key(), "flink.zookeeper_path_root");
        }
        assert_eq!(error(&format!("{ON}zookeeper_quorum = \"zk1\"\n")).key(), "flink.zookeeper_quorum");
    }

    #[test]
    fn a_hand_set_flink_conf_dir_conflicts_with_rendering() {
        let e = error(&format!("[jobmanager.env]\nFLINK_CONF_DIR = \"/etc/flink\"\n{ON}"));
        assert_error(&e, "jobmanager.env.FLINK_CONF_DIR", &["flink.base_config"]);
        // Without [flink] it is the way to choose Flink's configuration, as before.
        settings("[jobmanager.env]\nFLINK_CONF_DIR = \"/etc/flink\"\n");
    }

    #[test]
    fn conf_dir_and_base_config() {
        assert_error(&error(&format!("{ON}conf_dir = \"flink-conf\"\n")), "flink.conf_dir", &["relative"]);
        assert_error(&error(&format!("{ON}conf_dir = \"\"\n")), "flink.conf_dir", &["must not be empty"]);
        assert_error(&error(&format!("{ON}conf_dir = \"/etc/flink/\"\n")), "flink.conf_dir", &["overwrite the base"]);
        assert_error(&error(&format!("{ON}conf_dir = \"/etc/x/../flink\"\n")), "flink.conf_dir", &["overwrite"]);
        assert_error(&error(&ON.replace("\"/etc/flink/config.yaml\"", "\"\"")), "flink.base_config", &["empty"]);
        let ha = HaConfig::resolve(&settings(ON)).unwrap().0.unwrap();
        assert_eq!(ha.conf_dir, PathBuf::from(DEFAULT_CONF_DIR));
        // The default base comes from FLINK_HOME; without either, only the generated keys.
        let unset = ON.replace("base_config = \"/etc/flink/config.yaml\"\n", "");
        let (s, _) = load_env(&unset, &[("FLINK_HOME", "/opt/flink")]).unwrap();
        assert_eq!(s.flink.base_config, Some(PathBuf::from("/opt/flink/conf/config.yaml")));
        let w = warnings(&unset);
        assert!(w.iter().any(|w| w.key == "flink.base_config" && w.message.contains("only the generated keys")));
    }

    #[test]
    fn kubernetes_names_follow_kubernetes_rules_and_zookeeper_keys_are_ignored() {
        let k8s = "[flink]\nenabled = true\nmode = \"kubernetes\"\nstorage_dir = \"s3://b/ha\"\nkubernetes_namespace = \"flink\"\nkubernetes_cluster_id = \"c1\"\n";
        settings(k8s);
        for bad in ["Flink", "-flink", "flink_ns", &"n".repeat(64)] {
            let e = error(&k8s.replace("\"flink\"", &format!("{bad:?}")));
            assert_eq!(e.key(), "flink.kubernetes_namespace", "{bad}");
        }
        for bad in ["1cluster", "Cluster", "c-", &"c".repeat(46)] {
            let e = error(&k8s.replace("\"c1\"", &format!("{bad:?}")));
            assert_eq!(e.key(), "flink.kubernetes_cluster_id", "{bad}");
        }
        let w = warnings(&format!("{k8s}zookeeper_session_timeout = \"5s\"\ncluster_id = \"x\"\n"));
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).filter(|k| *k != "flink.base_config").collect();
        assert_eq!(keys, ["flink.zookeeper_session_timeout", "flink.cluster_id"]);
        let w = warnings(&format!("{ZK_SECTION}kubernetes_namespace = \"flink\"\n"));
        assert!(w.iter().any(|w| w.key == "flink.kubernetes_namespace" && w.message.contains("ignored")));
    }

    #[test]
    fn enabled_is_a_boolean() {
        let e = error("[flink]\nenabled = \"yes\"\n");
        assert_error(&e, "flink.enabled", &["true or false"]);
        assert_eq!(e.kind(), crate::config::ConfigErrorKind::WrongType);
        assert_eq!(error("[flink]\nenabled = 1\n").key(), "flink.enabled");
        let e = load_env("", &[("FHS_FLINK__ENABLED", "yes")]).unwrap_err();
        assert_error(&e, "flink.enabled", &["FHS_FLINK__ENABLED"]);
        let e = error("[flink]\nenabeld = true\n");
        assert_error(&e, "flink.enabeld", &["did you mean `flink.enabled`?"]);
    }

    #[test]
    fn effective_settings_fill_every_default() {
        let (s, _) = load_env(ON, &[("FHS_ZOOKEEPER__QUORUM", "zk1:2181/apps")]).unwrap();
        let ha = HaConfig::resolve(&s).unwrap().0.unwrap();
        let f = ha.effective(&s.flink);
        assert_eq!(f.zookeeper_quorum.as_deref(), Some("zk1:2181/apps"));
        assert_eq!(f.zookeeper_session_timeout, Some(Duration::from_secs(30)));
        assert_eq!(f.zookeeper_connection_timeout, Some(Duration::from_secs(3)));
        assert_eq!(f.failover_timeout, Some(Duration::from_secs(30)));
        assert_eq!(f.storage_dir.as_deref(), Some("hdfs:///flink/ha"));
    }
}

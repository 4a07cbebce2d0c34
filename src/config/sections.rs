//! The sections of the configuration file, one struct per `[section]`, as serde reads them.
//! `[flink]` has its own module, `flink_ha`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Credentials;
use super::DEFAULT_HTTP_LISTEN;

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
    /// The ZooKeeper servers' `tickTime`. It sizes the fence margin
    /// (`flink_ha_core::timing::fence_margin`): a value above the servers' is safe but fences
    /// earlier; a value below it is caught only when a grant proves it. Default 2s.
    #[serde(with = "humantime_serde")]
    pub tick_time: Duration,
    /// The ZooKeeper servers' `maxSessionTimeout`: the longest session they grant, to the daemon
    /// and to Flink (`flink.zookeeper_session_timeout`). Default: ZooKeeper's own default,
    /// 20 × `tick_time` ([`ZooKeeperSettings::session_cap`]).
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub max_session_timeout: Option<Duration>,
    /// How the daemons authenticate: `"none"`, `"digest"` (ZooKeeper's `addAuth digest
    /// user:password`), `"sasl"` (SASL DIGEST-MD5) or `"kerberos"` (SASL GSSAPI, in a build
    /// with the `kerberos` feature). With any but the first every node the daemons create gets
    /// an ACL of their identity alone (`crate::zk::acl`). Default "none".
    pub auth: String,
    /// The identity's user name; required when `auth` is not "none".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A file holding the password (one trailing newline is stripped); group and others may
    /// neither read nor write it. One of `password_file` and `password_env` when `auth` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// With `auth = "kerberos"`: the daemons' Kerberos principal (`primary[/instance]@REALM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// With `auth = "kerberos"`: the keytab holding `principal`'s keys, its first entry;
    /// protected like `password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keytab: Option<PathBuf>,
    /// With `auth` on: the daemons' nodes also grant `world:anyone` READ, so that `status` and
    /// monitoring read them without credentials. Default false.
    #[serde(default)]
    pub world_readable: bool,
    /// A PEM CA bundle; when set, every server is reached through TLS (ZooKeeper's secure
    /// client port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
    /// A PEM client certificate (with `tls_ca_file` and `tls_key_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of `tls_cert_file`; protected like `password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<PathBuf>,
    /// What `password_*` and `tls_*` point at, read when the settings are loaded; never
    /// serialized.
    #[serde(skip)]
    pub(crate) credentials: Credentials,
}

/// `zookeeper.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMode {
    /// No authentication; the daemons' nodes are open to anyone.
    None,
    /// `addAuth digest user:password`.
    Digest,
    /// SASL DIGEST-MD5.
    Sasl,
    /// SASL GSSAPI (Kerberos).
    Kerberos,
}

impl ZooKeeperSettings {
    /// `auth` as an [`AuthMode`]; `None` for a value that is none of them (refused by
    /// validation).
    pub(crate) fn auth_mode(&self) -> Option<AuthMode> {
        match self.auth.as_str() {
            "none" => Some(AuthMode::None),
            "digest" => Some(AuthMode::Digest),
            "sasl" => Some(AuthMode::Sasl),
            "kerberos" => Some(AuthMode::Kerberos),
            _ => None,
        }
    }

    /// True when the daemons authenticate, and so protect their nodes with ACLs.
    pub(crate) fn auth_on(&self) -> bool {
        matches!(self.auth_mode(), Some(AuthMode::Digest | AuthMode::Sasl | AuthMode::Kerberos))
    }

    /// The daemons' name in ZooKeeper's ACLs: `user`, or with Kerberos the primary of
    /// `principal` (`sasl:<primary>`, as servers that strip host and realm name it).
    pub(crate) fn identity_name(&self) -> Option<&str> {
        match self.auth_mode() {
            Some(AuthMode::Kerberos) => self.principal.as_deref().map(super::keytab::primary),
            _ => self.user.as_deref(),
        }
    }

    /// The longest session the servers grant: `max_session_timeout`, or ZooKeeper's default of
    /// 20 × `tick_time` when it is unset.
    pub(crate) fn session_cap(&self) -> Duration {
        self.max_session_timeout.unwrap_or(super::server_session_range(self.tick_time).1)
    }
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
    /// Default `"<hostname>:6123"`.
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
    /// How the JobManager is started: `"direct"` runs the JVM command line that Flink's
    /// `jobmanager.sh start-foreground` would build, resolved ahead of time (see
    /// `crate::process::launch`); `"script"` always runs `command` as configured. Exactly one of the two, in lowercase. Default
    /// "direct".
    pub launch: String,
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
    /// How a standby waits: `"cold"` (nothing runs; the leader starts its JobManager) or
    /// `"parked"` (a JobManager waits at its gate, connected to nothing, and the leader releases
    /// it). `"parked"` needs `[flink]` enabled in mode zookeeper. Exactly one of the two, in
    /// lowercase. Default "cold".
    pub standby: String,
    /// The jar of the gate a parked JobManager waits at (`flinkha.gate.GatedHaServicesFactory`,
    /// built by `scripts/build-gate`); used when `standby = "parked"`. Default
    /// "/usr/share/flink-ha-supervisor/flink-ha-gate.jar".
    pub gate_jar: PathBuf,
    /// How long a parked JobManager may take from its start to its gate (about 2 s on an idle
    /// host) before it is killed and parked again with backoff, as one that died. Default 60s.
    #[serde(with = "humantime_serde")]
    pub park_timeout: Duration,
}

/// `jobmanager.standby = "cold"`: nothing runs on a standby.
pub(crate) const STANDBY_COLD: &str = "cold";
/// `jobmanager.standby = "parked"`: a standby keeps a JobManager parked at its gate.
pub(crate) const STANDBY_PARKED: &str = "parked";

impl JobManagerSettings {
    /// `standby` as the machine's [`Standby`](flink_ha_core::machine::Standby); `None` for a
    /// value that is neither (refused by validation).
    pub(crate) fn standby_mode(&self) -> Option<flink_ha_core::machine::Standby> {
        match self.standby.as_str() {
            STANDBY_COLD => Some(flink_ha_core::machine::Standby::Cold),
            STANDBY_PARKED => Some(flink_ha_core::machine::Standby::Parked),
            _ => None,
        }
    }
}

/// `[failover]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSettings {
    /// The longest acceptable time from the failure of the leader's JobManager to a healthy
    /// JobManager elsewhere (30 s is what this daemon is built for). Used to check the other
    /// timings. Default 30s.
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
    /// `listen` (validation refuses that, so after [`Settings::load`](super::Settings::load) this is never `Err`).
    pub(crate) fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
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

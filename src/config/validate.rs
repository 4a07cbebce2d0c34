//! The checks of [`Settings::validate`] that need no host: every value on its own, then the
//! timings against each other and against the failover budget.

use std::time::Duration;

use flink_ha_core::timing;

use super::error::{ConfigError, ConfigWarning};
use super::values::{check_host_port, check_http_url, check_quorum, check_znode_path, chroot_of, is_invisible_format};
use super::{
    server_session_range, AuthMode, ElectionSettings, Settings, ZooKeeperSettings, DEFAULT_GATE_JAR, MAX_NODE_ID_BYTES,
};
use flink_ha_core::walltime::format_duration;

impl Settings {
    pub(super) fn validate_values(&self) -> Result<(), ConfigError> {
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

        check_target(&self.zookeeper, &self.election)?;

        let jm = &self.jobmanager;
        if jm.command.first().is_none_or(|program| program.trim().is_empty()) {
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
        if jm.gate_jar.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "jobmanager.gate_jar",
                format!("must not be empty; set the path of the gate jar (default {DEFAULT_GATE_JAR:?})"),
            ));
        }
        let launch_modes = [crate::process::launch::LAUNCH_DIRECT, crate::process::launch::LAUNCH_SCRIPT];
        if !launch_modes.contains(&jm.launch.as_str()) {
            return Err(ConfigError::not_one_of("jobmanager.launch", &jm.launch, "launch mode", &launch_modes));
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
            ("zookeeper.tick_time", self.zookeeper.tick_time, "2s"),
            ("jobmanager.start_timeout", jm.start_timeout, "20s"),
            ("jobmanager.health_interval", jm.health_interval, "2s"),
            ("jobmanager.restart_window", jm.restart_window, "5m"),
            ("jobmanager.park_timeout", jm.park_timeout, "60s"),
            ("failover.budget", self.failover.budget, "30s"),
            ("hooks.timeout", self.hooks.timeout, "10s"),
        ];
        if self.zookeeper.max_session_timeout.is_some_and(|cap| cap.is_zero()) {
            return Err(ConfigError::invalid(
                "zookeeper.max_session_timeout",
                "must be longer than zero; set it to the servers' maxSessionTimeout, or remove the key for ZooKeeper's default of 20 × zookeeper.tick_time",
            ));
        }
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
            if argv.first().is_none_or(|program| program.trim().is_empty()) {
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

    pub(super) fn validate_timing(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        let session = self.zookeeper.session_timeout;
        let connect = self.zookeeper.connect_timeout;
        let grace = self.jobmanager.stop_grace;
        let tick = self.zookeeper.tick_time;
        let start = self.jobmanager.start_timeout;
        let budget = self.failover.budget;

        if connect >= session {
            return Err(ConfigError::timing(
                "zookeeper.connect_timeout",
                format!(
                    "{} is not shorter than zookeeper.session_timeout ({}): a single connection attempt could outlast the session it is meant to keep; lower zookeeper.connect_timeout below {} or raise zookeeper.session_timeout",
                    format_duration(connect), format_duration(session), format_duration(session),
                ),
            ));
        }

        if timing::fence_after(session, grace, tick).is_none() {
            let raise = match min_session_timeout(grace, tick) {
                Some(min) => format!("raise zookeeper.session_timeout to at least {}", format_duration(min)),
                None => "raise zookeeper.session_timeout".to_string(),
            };
            let message = if timing::fence_after(session, Duration::ZERO, tick).is_none() {
                format!(
                    "zookeeper.session_timeout = {} leaves no time to stop the JobManager before the session could expire with zookeeper.tick_time = {}, whatever jobmanager.stop_grace is ({} now); {raise} (or, if the servers' tickTime is shorter, set zookeeper.tick_time to it)",
                    format_duration(session), format_duration(tick), format_duration(grace),
                )
            } else {
                format!(
                    "{} is too long for zookeeper.session_timeout = {} with zookeeper.tick_time = {}: the JobManager could still be running when the session expires and another node takes over; set jobmanager.stop_grace to at most {} or {raise}",
                    format_duration(grace), format_duration(session), format_duration(tick), format_duration(timing::max_stop_grace(session, tick)),
                )
            };
            return Err(ConfigError::timing("jobmanager.stop_grace", message));
        }

        if session >= budget {
            return Err(ConfigError::timing(
                "failover.budget",
                format!(
                    "{} is not longer than zookeeper.session_timeout ({}): a crashed leader is only noticed when its session expires, so a failover after a crash can never meet the budget; lower zookeeper.session_timeout or raise failover.budget",
                    format_duration(budget), format_duration(session),
                ),
            ));
        }

        let mut warnings = Vec::new();
        if session + start > budget {
            warnings.push(ConfigWarning {
                key: "jobmanager.start_timeout".into(),
                message: format!(
                    "zookeeper.session_timeout ({}) + jobmanager.start_timeout ({}) = {} exceeds failover.budget ({}): a failover whose JobManager starts slowly can overrun the budget; lower jobmanager.start_timeout to at most {} (and make the JobManager start that fast) or raise failover.budget",
                    format_duration(session), format_duration(start), format_duration(session + start), format_duration(budget), format_duration(budget - session),
                ),
            });
        }
        let (low, _) = server_session_range(tick);
        let cap = self.zookeeper.session_cap();
        if session < low {
            warnings.push(ConfigWarning {
                key: "zookeeper.session_timeout".into(),
                message: format!(
                    "{} is below the {} a ZooKeeper server with default session limits and tickTime {} (zookeeper.tick_time) grants; it will raise the timeout, so a crash is noticed later than configured; use at least {} or lower minSessionTimeout on the servers",
                    format_duration(session), format_duration(low), format_duration(tick), format_duration(low),
                ),
            });
        } else if session > cap {
            warnings.push(ConfigWarning {
                key: "zookeeper.session_timeout".into(),
                message: format!(
                    "{} is above the servers' maxSessionTimeout {} ({}); they will lower the timeout and the supervisor must fence by the shorter negotiated one; use at most {}, or raise maxSessionTimeout on the servers and set zookeeper.max_session_timeout to it",
                    format_duration(session), format_duration(cap), cap_source(self), format_duration(cap),
                ),
            });
        }
        Ok(warnings)
    }
}

/// The checks of `[zookeeper]`'s connect string and `election.path` that every command shares,
/// the daemon's and the client commands' (`status`, `pause`, `resume`, `handover`).
pub(super) fn check_target(zookeeper: &ZooKeeperSettings, election: &ElectionSettings) -> Result<(), ConfigError> {
    check_quorum(&zookeeper.quorum).map_err(|problem| {
        ConfigError::invalid(
            "zookeeper.quorum",
            format!("{problem}; set it to host:port[,host:port...][/chroot], e.g. \"zk1:2181,zk2:2181,zk3:2181/apps/flink\""),
        )
    })?;

    check_znode_path(&election.path).map_err(|problem| {
        ConfigError::invalid(
            "election.path",
            format!("{problem}; set it to an absolute ZooKeeper path such as \"/flink/leader\""),
        )
    })?;

    let server_path = format!("{}{}", chroot_of(&zookeeper.quorum), election.path);
    if server_path == "/zookeeper" || server_path.starts_with("/zookeeper/") {
        return Err(ConfigError::invalid(
            "election.path",
            format!("{server_path:?} (chroot included) lies under /zookeeper, ZooKeeper's own subtree; set it to a path of your own such as \"/flink/leader\""),
        ));
    }
    Ok(())
}

/// Where the session cap comes from, for messages: the key, or the default it follows.
pub(super) fn cap_source(settings: &Settings) -> String {
    match settings.zookeeper.max_session_timeout {
        Some(_) => "zookeeper.max_session_timeout".to_string(),
        None => format!(
            "zookeeper.max_session_timeout unset: ZooKeeper's default of 20 × zookeeper.tick_time {}",
            format_duration(settings.zookeeper.tick_time)
        ),
    }
}

/// The shortest session timeout for which `timing::fence_after` accepts `stop_grace` with
/// servers of `tickTime` `tick`, to the millisecond; `None` if none up to a day does.
pub(super) fn min_session_timeout(stop_grace: Duration, tick: Duration) -> Option<Duration> {
    let fits = |ms: u64| timing::fence_after(Duration::from_millis(ms), stop_grace, tick).is_some();
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

impl Settings {
    /// `jobmanager.standby` against `[flink]`: a parked JobManager waits at a gate inside
    /// Flink's ZooKeeper HA services, so parked mode needs them on.
    pub(super) fn validate_standby(&self, ha: Option<&super::HaConfig>) -> Result<(), ConfigError> {
        let Some(mode) = self.jobmanager.standby_mode() else {
            return Err(ConfigError::not_one_of(
                "jobmanager.standby",
                &self.jobmanager.standby,
                "standby mode",
                &[super::sections::STANDBY_COLD, super::sections::STANDBY_PARKED],
            ));
        };
        let zookeeper = ha.is_some_and(|ha| ha.ha_mode() == super::HaMode::ZooKeeper);
        if mode == flink_ha_core::machine::Standby::Parked && !zookeeper {
            return Err(ConfigError::invalid(
                "jobmanager.standby",
                "\"parked\" needs Flink's ZooKeeper HA services (the JobManager waits at a gate inside them); set flink.enabled = true with flink.mode = \"zookeeper\", or jobmanager.standby = \"cold\"",
            ));
        }
        // A parked JobManager holds no lease: it must be one that surely waits at the gate, i.e.
        // Flink's own start script reading the rendered configuration, which no argument of the
        // command may override.
        let command = &self.jobmanager.command;
        if mode == flink_ha_core::machine::Standby::Parked
            && (!super::is_flink_start_command(command) || command.iter().any(|a| a.contains("high-availability")))
        {
            return Err(ConfigError::invalid(
                "jobmanager.command",
                "with jobmanager.standby = \"parked\" it must be Flink's `bin/jobmanager.sh start-foreground` without high-availability.* arguments (only then is it sure to wait at the gate of the rendered configuration, holding no lease); use that command, or jobmanager.standby = \"cold\"",
            ));
        }
        Ok(())
    }
}

/// The election path an operator should use when the daemons must own its parent.
const OWN_ELECTION_PATH: &str = "/flink-ha/leader";

/// `zookeeper.auth = "kerberos"`: a build that has it, `principal` and `keytab`, and none of
/// the password keys.
fn validate_kerberos(zk: &super::ZooKeeperSettings) -> Result<(), ConfigError> {
    if !cfg!(feature = "kerberos") {
        return Err(ConfigError::invalid(
            "zookeeper.auth",
            "\"kerberos\" is not in this build of flink-ha-supervisor; build it with `cargo build --release --features kerberos` (it then needs the system's libgssapi_krb5), or use \"sasl\" or \"digest\"",
        ));
    }
    for (key, set) in [
        ("zookeeper.user", zk.user.is_some()),
        ("zookeeper.password_file", zk.password_file.is_some()),
        ("zookeeper.password_env", zk.password_env.is_some()),
    ] {
        if set {
            return Err(ConfigError::invalid(
                key,
                "is set while zookeeper.auth = \"kerberos\", which logs in with zookeeper.principal and zookeeper.keytab; remove the key",
            ));
        }
    }
    let Some(principal) = &zk.principal else {
        return Err(ConfigError::invalid(
            "zookeeper.principal",
            "required with zookeeper.auth = \"kerberos\"; set it to the daemons' Kerberos principal, e.g. \"flink-ha@EXAMPLE.COM\"",
        ));
    };
    let well_formed = principal.split_once('@').is_some_and(|(name, realm)| {
        !name.is_empty() && !realm.is_empty() && !realm.contains('@') && !name.split('/').any(str::is_empty)
    });
    if !well_formed || principal.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c)) {
        return Err(ConfigError::invalid(
            "zookeeper.principal",
            format!("{principal:?} is not a Kerberos principal; write it whole, as primary[/instance]@REALM, e.g. \"flink-ha@EXAMPLE.COM\""),
        ));
    }
    match &zk.keytab {
        None => Err(ConfigError::invalid(
            "zookeeper.keytab",
            format!("required with zookeeper.auth = \"kerberos\"; set it to a keytab holding the keys of {principal} that only the daemon's user can read (chmod 600)"),
        )),
        Some(path) if !path.is_absolute() => Err(ConfigError::invalid(
            "zookeeper.keytab",
            format!("{}: must be an absolute path (the GSSAPI library reads it whatever the working directory)", path.display()),
        )),
        Some(_) => Ok(()),
    }
}

impl Settings {
    /// `[zookeeper]`'s authentication and TLS keys, and what authentication asks of the paths:
    /// the daemons own the parent of `election.path` (it holds the election, the record and the
    /// controls), so it may be neither `/` nor Flink's HA root.
    pub(super) fn validate_auth(&self, ha: Option<&super::HaConfig>) -> Result<Vec<ConfigWarning>, ConfigError> {
        validate_auth(&self.zookeeper, &self.election.path, ha)
    }
}

/// `[zookeeper]`'s authentication and TLS keys, and what authentication asks of `election_path`
/// (see [`Settings::validate_auth`]); `ha` is `[flink]`'s effective form, `None` where it does not
/// matter (the client commands).
pub(super) fn validate_auth(
    zk: &ZooKeeperSettings,
    election_path: &str,
    ha: Option<&super::HaConfig>,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let mut warnings = Vec::new();
    let Some(mode) = zk.auth_mode() else {
        return Err(ConfigError::invalid(
                "zookeeper.auth",
                format!("{:?} is not an authentication mode; set it to \"none\", \"digest\" (ZooKeeper's addAuth digest user:password), \"sasl\" (SASL DIGEST-MD5) or \"kerberos\" (SASL GSSAPI)", zk.auth),
            ));
    };
    if mode == AuthMode::None {
        for (key, set) in [
            ("zookeeper.user", zk.user.is_some()),
            ("zookeeper.password_file", zk.password_file.is_some()),
            ("zookeeper.password_env", zk.password_env.is_some()),
            ("zookeeper.principal", zk.principal.is_some()),
            ("zookeeper.keytab", zk.keytab.is_some()),
        ] {
            if set {
                return Err(ConfigError::invalid(
                        key,
                        "is set while zookeeper.auth = \"none\"; set zookeeper.auth = \"digest\", \"sasl\" or \"kerberos\" to authenticate, or remove the key",
                    ));
            }
        }
        if zk.world_readable {
            warnings.push(ConfigWarning {
                    key: "zookeeper.world_readable".into(),
                    message: "has no effect with zookeeper.auth = \"none\": the daemons' nodes are open to anyone; set zookeeper.auth to protect them".into(),
                });
        }
    } else if mode == AuthMode::Kerberos {
        validate_kerberos(zk)?;
        validate_owned_parent(zk, election_path, ha)?;
    } else {
        let auth = &zk.auth;
        for (key, set) in [("zookeeper.principal", zk.principal.is_some()), ("zookeeper.keytab", zk.keytab.is_some())] {
            if set {
                return Err(ConfigError::invalid(
                    key,
                    format!("is set while zookeeper.auth = {auth:?}; it belongs to zookeeper.auth = \"kerberos\": set that, or remove the key"),
                ));
            }
        }
        let Some(user) = &zk.user else {
            return Err(ConfigError::invalid(
                "zookeeper.user",
                format!("required with zookeeper.auth = {auth:?}; set it to the daemons' ZooKeeper user name"),
            ));
        };
        if user.is_empty()
            || user.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
            || (mode == AuthMode::Digest && user.contains(':'))
        {
            return Err(ConfigError::invalid(
                    "zookeeper.user",
                    format!("{user:?} is empty or contains whitespace, a control character or (with digest) ':'; use letters, digits, '-', '_' and '.'"),
                ));
        }
        match (&zk.password_file, &zk.password_env) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::invalid(
                        "zookeeper.password_env",
                        "is set together with zookeeper.password_file; keep only one of them",
                    ))
                }
                (None, None) => {
                    return Err(ConfigError::invalid(
                        "zookeeper.password_file",
                        format!("required with zookeeper.auth = {auth:?} (or zookeeper.password_env); set it to a file only the daemon's user can read (chmod 600) that holds the password of {user}"),
                    ))
                }
                (Some(file), None) if file.as_os_str().is_empty() => {
                    return Err(ConfigError::invalid(
                        "zookeeper.password_file",
                        "must not be empty; set the path of the file holding the password",
                    ))
                }
                (None, Some(var)) if var.is_empty() || var.contains('=') || var.contains('\0') => {
                    return Err(ConfigError::invalid(
                        "zookeeper.password_env",
                        format!("{var:?} is not an environment variable name; set the name of the variable holding the password, e.g. \"FLINK_HA_ZK_PASSWORD\""),
                    ))
                }
                _ => {}
            }
        validate_owned_parent(zk, election_path, ha)?;
    }
    for (key, path) in [
        ("zookeeper.tls_ca_file", &zk.tls_ca_file),
        ("zookeeper.tls_cert_file", &zk.tls_cert_file),
        ("zookeeper.tls_key_file", &zk.tls_key_file),
    ] {
        if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(ConfigError::invalid(key, "must not be empty; set a path or remove the key"));
        }
    }
    match (&zk.tls_ca_file, &zk.tls_cert_file, &zk.tls_key_file) {
        (None, Some(_), _) | (None, _, Some(_)) => {
            let key = if zk.tls_cert_file.is_some() { "zookeeper.tls_cert_file" } else { "zookeeper.tls_key_file" };
            return Err(ConfigError::invalid(
                    key,
                    "needs zookeeper.tls_ca_file, which turns TLS on; set it to the PEM CA bundle of the servers' certificates, or remove the key",
                ));
        }
        (Some(_), Some(_), None) => {
            return Err(ConfigError::invalid(
                "zookeeper.tls_key_file",
                "required with zookeeper.tls_cert_file; set it to the certificate's PEM private key",
            ))
        }
        (Some(_), None, Some(_)) => {
            return Err(ConfigError::invalid(
                "zookeeper.tls_cert_file",
                "required with zookeeper.tls_key_file; set it to the client's PEM certificate",
            ))
        }
        _ => {}
    }
    Ok(warnings)
}

/// With authentication on, the parent of `election.path` is the daemons' alone: not `/`,
/// and, with Flink's ZooKeeper HA on the same ensemble, neither Flink's root, nor inside it,
/// nor around it.
fn validate_owned_parent(zk: &ZooKeeperSettings, path: &str, ha: Option<&super::HaConfig>) -> Result<(), ConfigError> {
    let parent = match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    };
    if parent == "/" {
        return Err(ConfigError::invalid(
                "election.path",
                format!("{path:?} lies right under \"/\": with zookeeper.auth on the daemons own the election path's parent (it holds the election, the leader record and the pause and handover nodes), and \"/\" cannot be theirs; set election.path = \"{OWN_ELECTION_PATH}\""),
            ));
    }
    let Some(super::flink_ha::ModeSettings::ZooKeeper(flink)) = ha.map(|ha| &ha.mode) else {
        return Ok(());
    };
    if !flink.same_ensemble_as_daemon {
        return Ok(());
    }
    let server_parent = format!("{}{parent}", chroot_of(&zk.quorum));
    let root = flink.server_path_root();
    let nested = |inner: &str, outer: &str| {
        inner == outer || outer == "/" || inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'))
    };
    if nested(&server_parent, &root) || nested(&root, &server_parent) {
        return Err(ConfigError::invalid(
                "election.path",
                format!("with zookeeper.auth on the daemons own the election path's parent {server_parent:?} (chroot included; it holds the election, the leader record and the pause and handover nodes), which must lie apart from Flink's HA root {root:?} (flink.zookeeper_path_root), where Flink's own client creates nodes; set election.path = \"{OWN_ELECTION_PATH}\""),
            ));
    }
    Ok(())
}

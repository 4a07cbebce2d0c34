//! Rendering Flink's configuration: the user's base
//! `config.yaml` merged with the keys the daemon generates from [`HaConfig`] and its own
//! `[jobmanager]` settings, written to `flink.conf_dir`, which becomes the JobManager's
//! `FLINK_CONF_DIR`.
//!
//! The base is read with a YAML parser and flattened the way Flink 2.x flattens it (nested maps
//! become dotted keys, `a: {b: 1}` is `a.b: 1`), so a generated key replaces the user's however
//! it was written, nested or dotted, and so do the deprecated and fallback keys of the same
//! Flink option (`high-availability` for `high-availability.type`, `web.port` for `rest.port`,
//! ...), which would otherwise compete with it. Every other key of the base is kept with its
//! value, in its order; comments are not (the output says which file it came from). The other
//! files of the base's directory (log4j properties) are copied beside the rendered file.
//!
//! YAML is read and written with `serde_norway`, a maintained fork of the deprecated
//! `serde_yaml` (same API, YAML 1.2 core schema like Flink's snakeyaml-engine parser).

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use crate::config::flink_ha::{FlinkZkSecurity, HaConfig, ModeSettings, CONFIG_FILE_NAME};
use crate::config::{ConfigError, ConfigWarning, Settings};
use flink_ha_core::walltime::format_duration;

/// Deprecated and fallback keys of the options the daemon generates, from Flink 2.3's option
/// definitions (`HighAvailabilityOptions`, `RestOptions`): a base that sets one of them loses it.
const ALIASES: &[(&str, &[&str])] = &[
    ("high-availability.type", &["high-availability", "recovery.mode"]),
    (
        "high-availability.cluster-id",
        &["high-availability.zookeeper.path.namespace", "recovery.zookeeper.path.namespace"],
    ),
    ("high-availability.storageDir", &["high-availability.zookeeper.storageDir", "recovery.zookeeper.storageDir"]),
    ("high-availability.jobmanager.port", &["recovery.jobmanager.port"]),
    ("high-availability.zookeeper.quorum", &["recovery.zookeeper.quorum"]),
    ("high-availability.zookeeper.path.root", &["recovery.zookeeper.path.root"]),
    ("high-availability.zookeeper.client.session-timeout", &["recovery.zookeeper.client.session-timeout"]),
    ("high-availability.zookeeper.client.connection-timeout", &["recovery.zookeeper.client.connection-timeout"]),
    ("rest.port", &["web.port", "jobmanager.web.port"]),
];

/// Why the configuration could not be rendered or written. Displays as one line naming the key
/// (or the file) and the fix, like a [`ConfigError`].
#[derive(Debug)]
pub(crate) enum RenderError {
    /// The settings are invalid (normally caught when they are loaded).
    Config(ConfigError),
    /// The base file could not be read.
    ReadBase {
        /// The base file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The base file is not YAML, or not a mapping of keys.
    BaseYaml {
        /// The base file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The rendered configuration could not be written.
    Write {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Config(e) => write!(f, "{e}"),
            RenderError::ReadBase { path, source } => write!(
                f,
                "flink.base_config: cannot read {}: {source}; point flink.base_config at a readable Flink config.yaml",
                path.display()
            ),
            RenderError::BaseYaml { path, problem } => {
                write!(f, "flink.base_config: {}: {problem}; fix the file (Flink 2.x config.yaml)", path.display())
            }
            RenderError::Write { path, source } => write!(
                f,
                "flink.conf_dir: cannot write {}: {source}; make flink.conf_dir a directory this daemon can write",
                path.display()
            ),
        }
    }
}

impl std::error::Error for RenderError {}

impl From<ConfigError> for RenderError {
    fn from(e: ConfigError) -> Self {
        RenderError::Config(e)
    }
}

/// A rendered Flink configuration, not yet written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    /// Where it goes (`flink.conf_dir`).
    pub conf_dir: PathBuf,
    /// The base it was merged from.
    pub base: Option<PathBuf>,
    /// The text of `config.yaml`.
    pub yaml: String,
    /// Keys of the base that generated keys replaced.
    pub replaced: Vec<String>,
    /// Things in the base that work against HA (for the caller to log).
    pub warnings: Vec<ConfigWarning>,
}

/// Renders the Flink configuration for `settings`: `Ok(None)` when Flink's HA is off. Reads
/// the base file; writes nothing.
pub(crate) fn render(settings: &Settings) -> Result<Option<Rendered>, RenderError> {
    let (ha, _) = HaConfig::resolve(settings)?;
    let Some(ha) = ha else {
        return Ok(None);
    };
    let base = match &ha.base_config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| RenderError::ReadBase { path: path.clone(), source })?;
            Some((path.as_path(), text))
        }
        None => None,
    };
    let generated = generated_keys(&ha, settings);
    let header = header(settings, &ha);
    let merged = merge(base.as_ref().map(|(p, t)| (*p, t.as_str())), &generated, &header)?;
    let mut warnings = merged.warnings;
    warnings.extend(bind_warnings(&merged.keys, settings));
    warnings.extend(kerberos_warning(&merged.keys, &ha));
    Ok(Some(Rendered {
        conf_dir: ha.conf_dir.clone(),
        base: ha.base_config.clone(),
        yaml: merged.yaml,
        replaced: merged.replaced,
        warnings,
    }))
}

impl Rendered {
    /// The rendered `config.yaml`'s path.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.conf_dir.join(CONFIG_FILE_NAME)
    }

    /// Writes the configuration directory: the other regular files of the base's directory
    /// (log4j properties and the like) are copied, then `config.yaml` is replaced atomically.
    pub(crate) fn write(&self) -> Result<(), RenderError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RenderError::Write { path, source }
        };
        std::fs::create_dir_all(&self.conf_dir).map_err(write_err(&self.conf_dir))?;
        if let Some(base) = &self.base {
            let base_dir = base.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let entries = std::fs::read_dir(base_dir)
                .map_err(|source| RenderError::ReadBase { path: base_dir.to_path_buf(), source })?;
            for entry in entries.flatten() {
                let name = entry.file_name();
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if !is_file || name == CONFIG_FILE_NAME || Some(name.as_os_str()) == base.file_name() {
                    continue;
                }
                let target = self.conf_dir.join(&name);
                std::fs::copy(entry.path(), &target).map_err(write_err(&target))?;
                // The copy has the source's mode; no more than 0640 of it.
                let mode = std::fs::metadata(&target).map_err(write_err(&target))?.permissions().mode() & 0o640;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).map_err(write_err(&target))?;
            }
        }
        let target = self.config_path();
        let temp = self.conf_dir.join(format!(".{CONFIG_FILE_NAME}.{}.tmp", std::process::id()));
        // A fresh file with mode 0640 (the umask can only tighten it), not a leftover's mode.
        match std::fs::remove_file(&temp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_err(&temp)(e)),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&temp)
            .map_err(write_err(&temp))?;
        file.write_all(self.yaml.as_bytes()).map_err(write_err(&temp))?;
        drop(file);
        std::fs::rename(&temp, &target).map_err(write_err(&target))
    }
}

/// The keys the daemon generates, in output order.
pub(crate) fn generated_keys(ha: &HaConfig, settings: &Settings) -> Vec<(String, Value)> {
    let text = |s: &str| Value::String(s.to_string());
    let ms = |d: std::time::Duration| Value::String(format!("{} ms", d.as_millis()));
    let mut keys: Vec<(String, Value)> = Vec::new();
    let mut add = |key: &str, value: Value| keys.push((key.to_string(), value));
    match &ha.mode {
        ModeSettings::ZooKeeper(zk) => {
            // A parked JobManager waits at the gate, which then delegates to type zookeeper.
            let ha_type = if super::gate::is_parked(settings) { super::gate::FACTORY_CLASS } else { "zookeeper" };
            add("high-availability.type", text(ha_type));
            add("high-availability.storageDir", text(&ha.storage_dir));
            add("high-availability.zookeeper.quorum", text(&zk.hosts));
            add("high-availability.zookeeper.path.root", text(&zk.server_path_root()));
            add("high-availability.cluster-id", text(&format!("/{}", zk.cluster_id)));
            add("high-availability.zookeeper.client.session-timeout", ms(zk.session_timeout));
            add("high-availability.zookeeper.client.connection-timeout", ms(zk.connection_timeout));
            // A suspended connection (a blip, a paused JVM) keeps Flink's leadership; only a lost
            // session revokes it (docs/ARCHITECTURE.md).
            add("high-availability.zookeeper.client.tolerate-suspended-connections", Value::Bool(true));
            let jvm_options = security_keys(&zk.security, &mut add);
            if !jvm_options.is_empty() {
                add(JVM_OPTIONS_KEY, text(&jvm_options.join(" ")));
            }
            let (rpc_host, rpc_port) = host_port(&settings.jobmanager.rpc_address);
            // In HA mode Flink ignores jobmanager.rpc.port and binds this one (default: random).
            add("high-availability.jobmanager.port", text(&rpc_port.to_string()));
            add("jobmanager.rpc.address", text(rpc_host));
            add("jobmanager.rpc.port", Value::Number(rpc_port.into()));
            add("rest.address", text(rpc_host));
            if let Some(port) = url_port(&settings.jobmanager.ready_url) {
                add("rest.port", Value::Number(port.into()));
            }
        }
        ModeSettings::Kubernetes(k8s) => {
            add("high-availability.type", text("kubernetes"));
            add("high-availability.storageDir", text(&ha.storage_dir));
            add("kubernetes.cluster-id", text(&k8s.cluster_id));
            add("kubernetes.namespace", text(&k8s.namespace));
        }
    }
    keys
}

/// The Flink option whose JVM options every Flink process (JobManager, TaskManager, client)
/// starts with: Flink's `bin/config.sh` puts it before `env.java.opts.all`. A base's own value
/// is kept after the generated options.
pub(crate) const JVM_OPTIONS_KEY: &str = "env.java.default-opts.all";

/// ZooKeeper's Netty client socket inside Flink 2.x (`flink-shaded-zookeeper-3`, in
/// `lib/flink-dist-*.jar`); the only client socket that speaks TLS. ZooKeeper's own class name,
/// `org.apache.zookeeper.ClientCnxnSocketNetty`, is not on Flink's classpath.
pub(crate) const SHADED_NETTY_SOCKET: &str =
    "org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.ClientCnxnSocketNetty";

/// The keys that make Flink's own ZooKeeper client log in and create its nodes with the creator
/// ACL, and the JVM options (system properties of Flink's shaded ZooKeeper client) for its JAAS
/// file and TLS, which Flink has no configuration keys for.
fn security_keys(security: &FlinkZkSecurity, add: &mut impl FnMut(&str, Value)) -> Vec<String> {
    let mut jvm = Vec::new();
    if let Some(sasl) = &security.sasl {
        // Only Flink's identity may then change or delete its nodes (ZooKeeper's CREATOR_ALL_ACL);
        // Flink refuses "creator" with zookeeper.sasl.disable: true.
        add("high-availability.zookeeper.client.acl", Value::String("creator".into()));
        add("zookeeper.sasl.disable", Value::Bool(false));
        add("zookeeper.sasl.login-context-name", Value::String(super::jaas::LOGIN_CONTEXT.into()));
        jvm.push(format!("-Djava.security.auth.login.config={}", sasl.jaas_file.display()));
    }
    if let Some(tls) = &security.tls {
        jvm.push("-Dzookeeper.client.secure=true".to_string());
        jvm.push(format!("-Dzookeeper.clientCnxnSocket={SHADED_NETTY_SOCKET}"));
        jvm.push(format!("-Dzookeeper.ssl.trustStore.location={}", tls.ca_file.display()));
        jvm.push("-Dzookeeper.ssl.trustStore.type=PEM".to_string());
        if let Some(keystore) = &tls.keystore {
            jvm.push(format!("-Dzookeeper.ssl.keyStore.location={}", keystore.display()));
            jvm.push("-Dzookeeper.ssl.keyStore.type=PEM".to_string());
        }
    }
    jvm
}

/// `host:port` or `[v6]:port` -> (host without brackets, port). Validated by `crate::config`.
fn host_port(address: &str) -> (&str, u16) {
    let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    (host, port.parse().unwrap_or(0))
}

/// The port of `http://host:port/path`.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn header(settings: &Settings, ha: &HaConfig) -> String {
    let base = match &ha.base_config {
        Some(path) => format!("# Base: {} (its keys flattened, its comments dropped).\n", path.display()),
        None => "# Base: none (flink.base_config unset): only the generated keys.\n".to_string(),
    };
    format!(
        "# Flink configuration of node {node:?}, written by flink-ha-supervisor before each JobManager start.\n\
         {base}\
         # Below the base: the keys generated from the daemon's [flink] and [jobmanager] settings\n\
         # (mode {mode}, failover timeout {timeout}). Do not edit this file: the next start overwrites it.\n",
        node = settings.node.id,
        mode = ha.ha_mode(),
        timeout = format_duration(ha.failover_timeout),
    )
}

/// The result of [`merge`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    /// The whole `config.yaml`.
    pub yaml: String,
    /// The effective flattened keys with their values, base first, then generated.
    pub keys: Vec<(String, Value)>,
    /// Base keys that generated keys (or their aliases) replaced.
    pub replaced: Vec<String>,
    /// Problems in the base.
    pub warnings: Vec<ConfigWarning>,
}

/// Merges a base `config.yaml` (path and text) with generated keys: the base flattened,
/// without the generated keys and their aliases, then a marked block of generated keys.
pub(crate) fn merge(
    base: Option<(&Path, &str)>,
    generated: &[(String, Value)],
    header: &str,
) -> Result<Merged, RenderError> {
    let mut warnings = Vec::new();
    let mut flat: Vec<(String, Value)> = Vec::new();
    if let Some((path, text)) = base {
        let bad = |problem: String| RenderError::BaseYaml { path: path.to_path_buf(), problem };
        let value: Value = serde_norway::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
        match value {
            Value::Null => {}
            Value::Mapping(mapping) => flatten("", &mapping, &mut flat).map_err(bad)?,
            other => return Err(bad(format!("the top level is {}, not a mapping of keys", kind(&other)))),
        }
        let mut seen: Vec<&str> = Vec::new();
        for (key, _) in &flat {
            if seen.contains(&key.as_str()) {
                warnings.push(ConfigWarning {
                    key: "flink.base_config".into(),
                    message: format!(
                        "{} sets {key} more than once (nested and dotted?); the last one is kept, Flink's own choice is unspecified",
                        path.display()
                    ),
                });
            }
            seen.push(key);
        }
        // The last occurrence wins, at its first position.
        let mut deduplicated: Vec<(String, Value)> = Vec::new();
        for (key, value) in flat {
            match deduplicated.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => deduplicated.push((key, value)),
            }
        }
        flat = deduplicated;
    }

    // The generated JVM options go first; the base's own stay after them.
    let mut generated = generated.to_vec();
    if let Some(i) = generated.iter().position(|(key, _)| key == JVM_OPTIONS_KEY) {
        if let Some((_, Value::String(own))) = flat.iter().find(|(key, _)| key == JVM_OPTIONS_KEY) {
            if let Value::String(ours) = &generated[i].1 {
                generated[i].1 = Value::String(format!("{ours} {own}").trim_end().to_string());
            }
        }
    }
    let generated = generated.as_slice();
    let replaces = |key: &str| {
        generated
            .iter()
            .any(|(g, _)| g == key || ALIASES.iter().any(|(option, aliases)| option == g && aliases.contains(&key)))
    };
    let (replaced, kept): (Vec<_>, Vec<_>) = flat.into_iter().partition(|(key, _)| replaces(key));
    let replaced: Vec<String> = replaced.into_iter().map(|(key, _)| key).collect();

    let mut yaml = header.to_string();
    if !kept.is_empty() {
        yaml.push('\n');
        yaml.push_str(&to_yaml(&kept));
    }
    yaml.push_str("\n# --- generated by flink-ha-supervisor ---\n");
    if !replaced.is_empty() {
        yaml.push_str(&format!("# (replacing the base's {})\n", replaced.join(", ")));
    }
    yaml.push_str(&to_yaml(generated));
    let mut keys = kept;
    keys.extend(generated.iter().cloned());
    Ok(Merged { yaml, keys, replaced, warnings })
}

/// Flattens nested mappings into dotted keys, as Flink's `GlobalConfiguration` does; lists and
/// scalars stay values.
fn flatten(prefix: &str, mapping: &Mapping, out: &mut Vec<(String, Value)>) -> Result<(), String> {
    for (key, value) in mapping {
        let key = match key {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => return Err(format!("a key under {prefix:?} is {}, not a name", kind(other))),
        };
        let full = format!("{prefix}{key}");
        match value {
            Value::Mapping(inner) => flatten(&format!("{full}."), inner, out)?,
            other => out.push((full, other.clone())),
        }
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// `key: value` lines in the given order.
fn to_yaml(entries: &[(String, Value)]) -> String {
    let mapping: Mapping = entries.iter().map(|(k, v)| (Value::String(k.clone()), v.clone())).collect();
    serde_norway::to_string(&mapping).expect("a mapping of string keys serializes")
}

/// A base that lists Flink's ZooKeeper login context among its Kerberos contexts while Flink
/// logs in with its JAAS file: Flink's `JaasModule` would add a required Kerberos login to the
/// `Client` section, and the login would fail.
fn kerberos_warning(keys: &[(String, Value)], ha: &HaConfig) -> Option<ConfigWarning> {
    let ModeSettings::ZooKeeper(zk) = &ha.mode else { return None };
    zk.security.sasl.as_ref()?;
    let (_, contexts) = keys.iter().find(|(k, _)| k == "security.kerberos.login.contexts")?;
    let listed = contexts.as_str()?.split(',').any(|c| c.trim() == super::jaas::LOGIN_CONTEXT);
    listed.then(|| ConfigWarning {
        key: "flink.base_config".into(),
        message: format!(
            "lists {ctx} in security.kerberos.login.contexts while Flink logs in to ZooKeeper with flink.zookeeper_jaas_file: Flink would add a Kerberos login to the {ctx} section and the ZooKeeper login fails; remove {ctx} from it",
            ctx = super::jaas::LOGIN_CONTEXT
        ),
    })
}

/// A base that binds the JobManager to loopback while it is advertised under another address.
fn bind_warnings(keys: &[(String, Value)], settings: &Settings) -> Vec<ConfigWarning> {
    let (rpc_host, _) = host_port(&settings.jobmanager.rpc_address);
    let loopback = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1") || h.starts_with("127.");
    if loopback(rpc_host) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    for bind_key in ["jobmanager.bind-host", "rest.bind-address"] {
        let bound = keys.iter().find(|(k, _)| k == bind_key).and_then(|(_, v)| v.as_str());
        if let Some(host) = bound.filter(|h| loopback(h)) {
            warnings.push(ConfigWarning {
                key: "flink.base_config".into(),
                message: format!(
                    "sets {bind_key}: {host}, but this JobManager is advertised as {rpc_host} (jobmanager.rpc_address): TaskManagers and clients on other hosts cannot reach it; set {bind_key} to 0.0.0.0 or this host's address"
                ),
            });
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{settings, ZK_SECTION};

    fn generated() -> Vec<(String, Value)> {
        vec![
            ("high-availability.type".to_string(), Value::String("zookeeper".into())),
            ("rest.port".to_string(), Value::Number(18081.into())),
        ]
    }

    fn merged(base: &str) -> Merged {
        merge(Some((Path::new("/etc/flink/config.yaml"), base)), &generated(), "# header\n").unwrap()
    }

    /// The rendered text read back the way Flink reads it: parsed, flattened.
    fn flat(yaml: &str) -> Vec<(String, Value)> {
        let Value::Mapping(m) = serde_norway::from_str(yaml).unwrap() else { panic!("{yaml}") };
        let mut out = Vec::new();
        flatten("", &m, &mut out).unwrap();
        out
    }

    #[test]
    fn nested_and_dotted_keys_are_flattened_kept_in_order_and_replaced() {
        let base = "env:\n  java:\n    opts:\n      all: --add-opens=x\nrest:\n  port: 8081\n  address: localhost\n\
                    high-availability: NONE\nweb.port: 8082\nparallelism.default: 2\npipeline.jars: [a.jar, b.jar]\n\
                    taskmanager.memory.process.size: 1728m\nflag: yes\nquoted: '123'\nempty: {}\n";
        let m = merged(base);
        assert_eq!(m.replaced, ["rest.port", "high-availability", "web.port"]);
        let keys: Vec<String> = flat(&m.yaml).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "env.java.opts.all",
                "rest.address",
                "parallelism.default",
                "pipeline.jars",
                "taskmanager.memory.process.size",
                "flag",
                "quoted",
                "high-availability.type",
                "rest.port"
            ]
        );
        // Values keep their YAML types: numbers stay numbers, the quoted string stays a string.
        let values = flat(&m.yaml);
        let get = |k: &str| values.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get("parallelism.default"), Value::Number(2.into()));
        assert_eq!(get("quoted"), Value::String("123".into()));
        assert_eq!(get("flag"), Value::String("yes".into()));
        assert_eq!(get("rest.port"), Value::Number(18081.into()));
        assert!(matches!(get("pipeline.jars"), Value::Sequence(s) if s.len() == 2));
        assert!(m.yaml.starts_with("# header\n"));
        assert!(m.yaml.contains("# --- generated by flink-ha-supervisor ---\n# (replacing the base's rest.port, high-availability, web.port)\n"));
    }

    #[test]
    fn the_bases_own_default_jvm_options_stay_after_the_generated_ones() {
        let mut generated = generated();
        generated.push((JVM_OPTIONS_KEY.to_string(), Value::String("-Da=1".into())));
        let base = "env:\n  java:\n    default-opts:\n      all: -XX:+UseG1GC\n";
        let m = merge(Some((Path::new("/etc/flink/config.yaml"), base)), &generated, "").unwrap();
        let values = flat(&m.yaml);
        let found: Vec<_> = values.iter().filter(|(k, _)| k == JVM_OPTIONS_KEY).collect();
        assert_eq!(found, [&(JVM_OPTIONS_KEY.to_string(), Value::String("-Da=1 -XX:+UseG1GC".into()))]);
        // Without generated options the base's stay as they are.
        let m = merged(base);
        assert!(m.yaml.contains("env.java.default-opts.all: -XX:+UseG1GC\n"), "{}", m.yaml);
    }

    #[test]
    fn a_key_set_twice_keeps_the_last_value_and_warns() {
        let m = merged("rest:\n  address: a\nrest.address: b\n");
        assert_eq!(flat(&m.yaml)[0], ("rest.address".to_string(), Value::String("b".into())));
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].message.contains("rest.address more than once"), "{:?}", m.warnings);
    }

    #[test]
    fn bad_bases_are_one_line_errors_naming_the_file() {
        for (base, words) in [
            ("a: [unclosed\n", "not valid YAML"),
            ("- a\n- b\n", "a list, not a mapping"),
            ("just text\n", "a string, not a mapping"),
            ("? [a, b]\n: c\n", "not a name"),
        ] {
            let e = merge(Some((Path::new("/etc/flink/config.yaml"), base)), &generated(), "").unwrap_err().to_string();
            assert!(e.starts_with("flink.base_config: /etc/flink/config.yaml: "), "{e}");
            assert!(e.contains(words), "{words:?} missing in {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        // Empty or comments only: just the generated keys.
        for base in ["", "# nothing\n"] {
            assert_eq!(flat(&merged(base).yaml).len(), 2);
        }
    }

    #[test]
    fn no_base_renders_only_the_generated_keys() {
        let m = merge(None, &generated(), "# h\n").unwrap();
        assert_eq!(
            m.yaml,
            "# h\n\n# --- generated by flink-ha-supervisor ---\nhigh-availability.type: zookeeper\nrest.port: 18081\n"
        );
    }

    #[test]
    fn rendering_writes_the_directory_and_points_flink_conf_dir_at_it() {
        let dir = tempfile::tempdir().unwrap();
        let base_dir = dir.path().join("base");
        std::fs::create_dir_all(&base_dir).unwrap();
        std::fs::write(base_dir.join("config.yaml"), "rest:\n  port: 8081\njobmanager.bind-host: localhost\n").unwrap();
        std::fs::write(base_dir.join("log4j-console.properties"), "rootLogger.level = INFO\n").unwrap();
        std::fs::create_dir_all(base_dir.join("subdir")).unwrap();
        let conf_dir = dir.path().join("state/flink-conf");
        let s = settings(&format!(
            "{ZK_SECTION}base_config = {:?}\nconf_dir = {:?}\n",
            base_dir.join("config.yaml").display().to_string(),
            conf_dir.display().to_string()
        ));
        let mut spec =
            crate::process::jobmanager::Spec { guard_exe: "/bin/true".into(), settings: s.jobmanager.clone() };
        crate::flink::prepare_spawn(&s, &mut spec).unwrap();
        assert_eq!(spec.settings.env.get("FLINK_CONF_DIR"), Some(&conf_dir.display().to_string()));
        let written = std::fs::read_to_string(conf_dir.join("config.yaml")).unwrap();
        assert!(written.contains("high-availability.type: zookeeper\n"), "{written}");
        assert!(written.contains("rest.port: 8081\n"), "{written}");
        assert_eq!(
            std::fs::read_to_string(conf_dir.join("log4j-console.properties")).unwrap(),
            "rootLogger.level = INFO\n"
        );
        assert!(!conf_dir.join("subdir").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&conf_dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
        // The base binds to loopback while jm1.example.org is advertised.
        let r = render(&s).unwrap().unwrap();
        assert!(r.warnings.iter().any(|w| w.message.contains("jobmanager.bind-host: localhost")), "{:?}", r.warnings);
        // A missing base is an error like a failed spawn.
        std::fs::remove_file(base_dir.join("config.yaml")).unwrap();
        let e = crate::flink::prepare_spawn(&s, &mut spec).unwrap_err().to_string();
        assert!(e.starts_with("flink.base_config: cannot read "), "{e}");
    }

    #[test]
    fn an_unwritable_conf_dir_is_reported_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let s = settings(&format!("{ZK_SECTION}conf_dir = {:?}\n", file.join("conf").display().to_string()));
        let e = render(&s).unwrap().unwrap().write().unwrap_err().to_string();
        assert!(e.starts_with("flink.conf_dir: cannot write "), "{e}");
    }

    #[test]
    fn addresses_come_from_the_daemons_settings() {
        assert_eq!(host_port("jm1.example.org:6123"), ("jm1.example.org", 6123));
        assert_eq!(host_port("[::1]:6123"), ("::1", 6123));
        assert_eq!(url_port("http://127.0.0.1:18081/overview"), Some(18081));
        assert_eq!(url_port("http://[::1]:8081/overview?x=1"), Some(8081));
    }
    /// Fuzzing of the base `config.yaml`, a file from outside: a bounded number of cases in every
    /// `cargo test` (proptest's default, 256); longer by hand with `PROPTEST_CASES=100000 cargo
    /// test --lib flink::render::tests::fuzz`.
    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        fn base(text: &str) -> Result<Merged, RenderError> {
            merge(Some((Path::new("/etc/flink/config.yaml"), text)), &generated(), "# header\n")
        }

        /// The read-back of a rendered file: every generated key exactly once, with its value.
        fn assert_generated_intact(merged: &Merged) {
            let back = flat(&merged.yaml);
            for (key, value) in generated() {
                let found: Vec<_> = back.iter().filter(|(k, _)| *k == key).collect();
                assert_eq!(found, [&(key.clone(), value)], "{}", merged.yaml);
            }
            let mut keys: Vec<_> = back.iter().map(|(k, _)| k).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), back.len(), "a key twice in:\n{}", merged.yaml);
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z0-9.\\-_ ]{0,8}",
                Just("high-availability".to_string()),
                Just("high-availability.type".to_string()),
                Just("rest.port".to_string()),
                Just("rest".to_string()),
                Just("port".to_string()),
                "\\PC{0,6}",
            ]
        }

        fn yaml_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| Value::Number(n.into())),
                any::<f64>().prop_map(|n| Value::Number(n.into())),
                "\\PC{0,12}".prop_map(Value::String),
                "[:#&*!|>'\"%@`{}\\[\\], -]{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
                    prop::collection::vec((key(), inner), 0..6).prop_map(|entries| Value::Mapping(
                        entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                    )),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_text_is_merged_or_refused_in_one_line(text in prop_oneof![
                any::<String>(),
                "[ -~\n\t]{0,300}",
                "([a-z.]{1,6}:( [-:{}\\[\\],&*!|>'\"#a-z0-9]{0,12})?\n( {1,4})?){0,20}",
            ]) {
                match base(&text) {
                    Ok(merged) => assert_generated_intact(&merged),
                    Err(e) => {
                        let shown = e.to_string();
                        prop_assert!(!shown.contains('\n'), "not one line: {}", shown);
                        prop_assert!(shown.starts_with("flink.base_config: /etc/flink/config.yaml: "), "{}", shown);
                    }
                }
            }

            #[test]
            fn a_mapping_keeps_the_generated_keys_intact(entries in prop::collection::vec((key(), yaml_value()), 0..12)) {
                let mapping: Mapping = entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
                let text = serde_norway::to_string(&Value::Mapping(mapping)).unwrap();
                match base(&text) {
                    Ok(merged) => assert_generated_intact(&merged),
                    // Keys that flatten into something Flink cannot read are refused, in one line.
                    Err(e) => prop_assert!(!e.to_string().contains('\n'), "{}", e),
                }
            }
        }
    }
}

//! Every key of the configuration with the type it expects, and the checks of the merged tree
//! that run before serde sees it. The schema repeats the structs of `sections` and `flink_ha`
//! for the sake of its messages; a test below keeps the two equal.

use std::collections::BTreeMap;
use std::time::Duration;

use config::{Value, ValueKind};

use super::error::{ConfigError, ConfigErrorKind};
use super::suggest::unknown_key;
use super::values::DAY;
use super::{DEFAULT_GATE_JAR, DEFAULT_HTTP_LISTEN};
use flink_ha_core::walltime::format_duration;

/// Defaults that do not depend on the host or the environment, as the strings a user would
/// write. docs/configuration.md and config/flink-ha-supervisor.toml repeat them.
pub(super) const DEFAULTS: &[(&str, &str)] = &[
    ("zookeeper.session_timeout", "10s"),
    ("zookeeper.connect_timeout", "3s"),
    ("zookeeper.tick_time", "2s"),
    ("zookeeper.auth", "none"),
    ("election.path", "/flink/leader"),
    ("jobmanager.ready_url", "http://127.0.0.1:8081/overview"),
    ("jobmanager.start_timeout", "20s"),
    ("jobmanager.stop_grace", "3s"),
    ("jobmanager.launch", "direct"),
    ("jobmanager.health_interval", "2s"),
    ("jobmanager.restart_window", "5m"),
    ("jobmanager.standby", "cold"),
    ("jobmanager.gate_jar", DEFAULT_GATE_JAR),
    ("jobmanager.park_timeout", "60s"),
    ("failover.budget", "30s"),
    ("http.listen", DEFAULT_HTTP_LISTEN),
    ("hooks.timeout", "10s"),
];

/// Numeric defaults.
pub(super) const COUNT_DEFAULTS: &[(&str, u32)] = &[("jobmanager.health_failures", 5), ("jobmanager.restart_limit", 3)];

/// The type a key expects, for the checks that run before deserialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
const WEEK: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Every key, section by section, in documentation order; durations with their upper bound.
pub(super) const SCHEMA: &[(&str, &[(&str, Kind)])] = &[
    ("node", &[("id", Kind::Text)]),
    (
        "zookeeper",
        &[
            ("quorum", Kind::Text),
            ("session_timeout", Kind::Duration(TEN_MINUTES)),
            ("connect_timeout", Kind::Duration(TEN_MINUTES)),
            ("tick_time", Kind::Duration(TEN_MINUTES)),
            ("max_session_timeout", Kind::Duration(DAY)),
            ("auth", Kind::Text),
            ("user", Kind::Text),
            ("password_file", Kind::Text),
            ("password_env", Kind::Text),
            ("principal", Kind::Text),
            ("keytab", Kind::Text),
            ("world_readable", Kind::Bool),
            ("tls_ca_file", Kind::Text),
            ("tls_cert_file", Kind::Text),
            ("tls_key_file", Kind::Text),
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
            ("launch", Kind::Text),
            ("start_timeout", Kind::Duration(HOUR)),
            ("stop_grace", Kind::Duration(TEN_MINUTES)),
            ("health_interval", Kind::Duration(HOUR)),
            ("health_failures", Kind::Count),
            ("restart_limit", Kind::Count),
            ("restart_window", Kind::Duration(WEEK)),
            ("standby", Kind::Text),
            ("gate_jar", Kind::Text),
            ("park_timeout", Kind::Duration(HOUR)),
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
            ("zookeeper_jaas_file", Kind::Text),
            ("zookeeper_tls_keystore", Kind::Text),
        ],
    ),
    ("hooks", &[("on_leader", Kind::List), ("on_standby", Kind::List), ("timeout", Kind::Duration(HOUR))]),
];

/// Keys whose value is a list of strings; from the environment they are split on whitespace.
pub(super) const LIST_KEYS: &[&str] = &["jobmanager.command", "hooks.on_leader", "hooks.on_standby"];

/// All dotted keys, in documentation order.
pub(crate) fn known_keys() -> Vec<String> {
    SCHEMA.iter().flat_map(|(section, keys)| keys.iter().map(move |(key, _)| format!("{section}.{key}"))).collect()
}

/// Checks keys and value types of the merged tree, before serde sees it, for messages that name
/// the full key. (serde's own `deny_unknown_fields` message names only the field, and the config
/// crate silently converts e.g. 2.6 to 3 and "yes" to 1 for integers.)
pub(super) fn check_tree(root: &Value, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
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
                    format_duration(max),
                    format_duration(max)
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

pub(super) fn lookup<'a>(root: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(root, |value, part| match &value.kind {
        ValueKind::Table(table) => table.get(part),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value as Json;

    use super::*;
    use crate::config::sections::*;
    use crate::config::{FlinkSettings, Settings};

    /// Settings with every optional key set, written as a struct literal so that a new field
    /// fails to compile here until it is given a value (and, through this test, a schema entry).
    fn every_key_set() -> Settings {
        let some_path = || Some(PathBuf::from("/x"));
        let argv = || vec!["/bin/true".to_string()];
        Settings {
            node: NodeSettings { id: "jm1".into() },
            zookeeper: ZooKeeperSettings {
                quorum: "zk1:2181".into(),
                session_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(3),
                tick_time: Duration::from_secs(2),
                max_session_timeout: Some(Duration::from_secs(40)),
                auth: "digest".into(),
                user: Some("flinkha".into()),
                password_file: some_path(),
                password_env: Some("ZK_PASSWORD".into()),
                principal: Some("fhs@EXAMPLE.TEST".into()),
                keytab: some_path(),
                world_readable: true,
                tls_ca_file: some_path(),
                tls_cert_file: some_path(),
                tls_key_file: some_path(),
                credentials: Default::default(),
            },
            election: ElectionSettings { path: "/flink/leader".into() },
            jobmanager: JobManagerSettings {
                command: argv(),
                env: BTreeMap::from([("A".to_string(), "b".to_string())]),
                workdir: some_path(),
                ready_url: "http://127.0.0.1:8081/overview".into(),
                rpc_address: "jm1:6123".into(),
                log_file: some_path(),
                cds_archive: some_path(),
                launch: "script".into(),
                start_timeout: Duration::from_secs(20),
                stop_grace: Duration::from_secs(3),
                health_interval: Duration::from_secs(2),
                health_failures: 3,
                restart_limit: 3,
                restart_window: Duration::from_secs(300),
                standby: "parked".into(),
                gate_jar: PathBuf::from("/g.jar"),
                park_timeout: Duration::from_secs(60),
            },
            failover: FailoverSettings { budget: Duration::from_secs(30) },
            log: LogSettings { audit_file: some_path() },
            http: HttpSettings::default(),
            flink: FlinkSettings {
                enabled: true,
                mode: "zookeeper".into(),
                zookeeper_quorum: Some("zk1:2181".into()),
                zookeeper_path_root: "/flink".into(),
                cluster_id: "default".into(),
                kubernetes_namespace: Some("flink".into()),
                kubernetes_cluster_id: Some("c1".into()),
                storage_dir: Some("file:///ha".into()),
                jobmanager_count: 2,
                failover_timeout: Some(Duration::from_secs(30)),
                zookeeper_session_timeout: Some(Duration::from_secs(10)),
                zookeeper_connection_timeout: Some(Duration::from_secs(3)),
                base_config: some_path(),
                conf_dir: PathBuf::from("/y"),
                zookeeper_jaas_file: some_path(),
                zookeeper_tls_keystore: some_path(),
            },
            hooks: HookSettings { on_leader: Some(argv()), on_standby: Some(argv()), timeout: Duration::from_secs(10) },
        }
    }

    /// Whether a serialized value has the form the schema expects of its key.
    fn fits(kind: Kind, value: &Json) -> bool {
        match (kind, value) {
            (Kind::Text, Json::String(_)) | (Kind::Bool, Json::Bool(_)) => true,
            (Kind::Duration(_), Json::String(s)) => humantime::parse_duration(s).is_ok(),
            (Kind::Count, Json::Number(n)) => n.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
            (Kind::List, Json::Array(items)) => items.iter().all(Json::is_string),
            (Kind::Table, Json::Object(entries)) => entries.values().all(Json::is_string),
            _ => false,
        }
    }

    #[test]
    fn the_schema_names_every_field_of_the_structs_with_its_type() {
        let Json::Object(sections) = serde_json::to_value(every_key_set()).unwrap() else { panic!("not a table") };
        let mut from_structs = Vec::new();
        for (section, table) in &sections {
            let Json::Object(keys) = table else { panic!("[{section}] is not a table") };
            for (key, value) in keys {
                let full = format!("{section}.{key}");
                let kind = SCHEMA
                    .iter()
                    .find(|(s, _)| s == section)
                    .and_then(|(_, keys)| keys.iter().find(|(k, _)| k == key))
                    .map(|(_, kind)| *kind);
                let kind = kind.unwrap_or_else(|| panic!("{full} is a field of the structs but not in SCHEMA"));
                assert!(fits(kind, value), "{full}: SCHEMA says {kind:?}, the struct serializes {value}");
                from_structs.push(full);
            }
        }
        let mut from_schema = known_keys();
        from_schema.sort();
        from_structs.sort();
        assert_eq!(from_schema, from_structs, "SCHEMA and the structs name different keys");
    }

    #[test]
    fn the_defaults_name_known_keys_and_match_the_structs() {
        let known = known_keys();
        for key in DEFAULTS.iter().map(|(k, _)| *k).chain(COUNT_DEFAULTS.iter().map(|(k, _)| *k)) {
            assert!(known.iter().any(|k| k == key), "default for unknown key {key}");
        }
        let default = |key: &str| DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(default("http.listen"), Some(HttpSettings::default().listen.as_str()));
        let hooks = humantime::parse_duration(default("hooks.timeout").unwrap()).unwrap();
        assert_eq!(hooks, HookSettings::default().timeout);
    }
}

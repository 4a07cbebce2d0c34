//! Helpers for the unit tests of the `[flink]` section and of `crate::flink`: settings loaded
//! from TOML text exactly as `run` loads them.

use std::io::Write;

use crate::config::{ConfigError, ConfigWarning, Settings};

/// What every test file holds before its own lines: a daemon quorum, a command, addresses.
pub(crate) const DAEMON: &str = r#"
[node]
id = "jm1"
[zookeeper]
quorum = "zk1:2181,zk2:2181,zk3:2181"
[jobmanager]
command = ["/opt/flink/bin/jobmanager.sh", "start-foreground"]
rpc_address = "jm1.example.org:6123"
ready_url = "http://127.0.0.1:8081/overview"
"#;

/// Loads `DAEMON` + `extra` with the environment `env`.
pub(crate) fn load_env(extra: &str, env: &[(&str, &str)]) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(format!("{DAEMON}{extra}").as_bytes()).expect("write");
    Settings::load_with_env(file.path(), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// Loads `DAEMON` + `extra` without environment.
pub(crate) fn load(extra: &str) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
    load_env(extra, &[])
}

/// Loads and panics on an error.
pub(crate) fn settings(extra: &str) -> Settings {
    load(extra).unwrap_or_else(|e| panic!("expected {extra:?} to load, got: {e}")).0
}

/// Loads and returns the error; panics if it loads.
pub(crate) fn error(extra: &str) -> ConfigError {
    match load(extra) {
        Ok((s, _)) => panic!("expected an error for {extra:?}, got {:?}", s.flink),
        Err(e) => e,
    }
}

/// Asserts that `e` names `key` and that its line contains every word.
#[track_caller]
pub(crate) fn assert_error(e: &ConfigError, key: &str, words: &[&str]) {
    let line = e.to_string();
    assert_eq!(e.key(), key, "wrong key in: {line}");
    assert!(!line.contains('\n'), "not one line: {line}");
    for word in words {
        assert!(line.contains(word), "{word:?} missing in: {line}");
    }
}

/// A `[flink]` section in mode zookeeper with every key set to a typical valid value.
pub(crate) const ZK_SECTION: &str = r#"
[flink]
enabled = true
mode = "zookeeper"
zookeeper_quorum = "localhost:2181,localhost:2182,localhost:2183"
zookeeper_path_root = "/flink"
storage_dir = "/opt/flink/ha"
jobmanager_count = 2
failover_timeout = "30s"
"#;

/// A `[flink]` section in mode kubernetes with every key set to a typical valid value.
pub(crate) const K8S_SECTION: &str = r#"
[flink]
enabled = true
mode = "kubernetes"
kubernetes_namespace = "flink"
kubernetes_cluster_id = "flink-cluster-1"
storage_dir = "/opt/flink/ha"
jobmanager_count = 2
failover_timeout = "30s"
"#;

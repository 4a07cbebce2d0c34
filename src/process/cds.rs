//! The JobManager's JVM class-data-sharing (CDS) archive at each spawn: when
//! `jobmanager.cds_archive` exists, the JobManager gets `-XX:SharedArchiveFile=<path>` appended
//! to `JVM_ARGS`, which Flink's `bin/flink-console.sh` passes to `java`. The archive holds some
//! ten thousand classes pre-parsed, which cuts the cold start of a failover (BENCHMARKS.md has
//! the figures). A missing archive only costs the speed-up. `make-cds-archive`
//! (`crate::cmd::make_cds_archive`) makes it.
//!
//! The same command writes `<archive>.classes` ([`class_list`]): the classes that start loaded.
//! A parked JobManager gets its path in `FLINK_HA_GATE_PRELOAD` ([`prepare_park`]), and the gate
//! loads them (without initializing any) while the JVM waits, so that the release finds them
//! loaded. A missing list only costs that speed-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{JobManagerSettings, Settings};

/// The environment variable Flink's scripts put on the `java` command line.
pub(crate) const JVM_ARGS_VAR: &str = "JVM_ARGS";

/// The variable that names the class list a parked JobManager's gate preloads.
pub(crate) const PRELOAD_VAR: &str = "FLINK_HA_GATE_PRELOAD";

/// The class list beside `archive`: `<archive>.classes`.
pub(crate) fn class_list(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_os_string();
    name.push(".classes");
    PathBuf::from(name)
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// `jobmanager.cds_archive` is unset.
    Off,
    /// The archive exists and is passed to the JVM.
    Used(PathBuf),
    /// The archive is configured but missing: the JobManager starts without it.
    Missing(PathBuf),
}

/// `JVM_ARGS` for the JobManager: `base` (from `jobmanager.env`, else the daemon's own
/// environment) with `-XX:SharedArchiveFile=<archive>` appended.
pub(crate) fn jvm_args_with_archive(base: Option<&str>, archive: &Path) -> String {
    let flag = format!("-XX:SharedArchiveFile={}", archive.display());
    match base.map(str::trim).filter(|b| !b.is_empty()) {
        Some(base) => format!("{base} {flag}"),
        None => flag,
    }
}

/// Sets `JVM_ARGS` in `env` (the JobManager's environment about to be spawned) from the
/// configured settings `jm`, so that repeated spawns never accumulate flags.
pub(crate) fn apply(jm: &JobManagerSettings, env: &mut BTreeMap<String, String>) -> Applied {
    let Some(archive) = jm.cds_archive.clone() else {
        return Applied::Off;
    };
    let base = jm.env.get(JVM_ARGS_VAR).cloned().or_else(|| std::env::var(JVM_ARGS_VAR).ok());
    if std::fs::metadata(&archive).is_ok_and(|m| m.is_file() && m.len() > 0) {
        env.insert(JVM_ARGS_VAR.to_string(), jvm_args_with_archive(base.as_deref(), &archive));
        Applied::Used(archive)
    } else {
        match base {
            Some(base) => env.insert(JVM_ARGS_VAR.to_string(), base),
            None => env.remove(JVM_ARGS_VAR),
        };
        Applied::Missing(archive)
    }
}

/// Sets or removes [`PRELOAD_VAR`] in `env` for a parked JobManager: the class list beside the
/// configured archive when it is a non-empty file. `Some(list)` when set, and the missing list's
/// path when an archive is configured but its list is not there.
pub(crate) fn apply_preload(jm: &JobManagerSettings, env: &mut BTreeMap<String, String>) -> Applied {
    env.remove(PRELOAD_VAR);
    let Some(archive) = jm.cds_archive.as_deref() else {
        return Applied::Off;
    };
    let list = class_list(archive);
    if std::fs::metadata(&list).is_ok_and(|m| m.is_file() && m.len() > 0) {
        env.insert(PRELOAD_VAR.to_string(), list.display().to_string());
        Applied::Used(list)
    } else {
        Applied::Missing(list)
    }
}

/// Called by the daemon right before it parks a JobManager: [`prepare_spawn`] and the class list
/// to preload at the gate; logs what it did.
pub(crate) fn prepare_park(settings: &Settings, spec: &mut crate::process::jobmanager::Spec) {
    prepare_spawn(settings, spec);
    match apply_preload(&settings.jobmanager, &mut spec.settings.env) {
        Applied::Off => {}
        Applied::Used(path) => tracing::info!(event = "class_list_used", path = %path.display(),
            "the parked JobManager loads the classes of its class list while it waits"),
        Applied::Missing(path) => tracing::warn!(
            event = "class_list_missing",
            path = %path.display(),
            "the class list beside jobmanager.cds_archive does not exist; the parked JobManager waits without preloading (`flink-ha-supervisor make-cds-archive` writes both)"
        ),
    }
}

/// Called by the daemon right before each JobManager spawn; logs what it did.
pub(crate) fn prepare_spawn(settings: &Settings, spec: &mut crate::process::jobmanager::Spec) {
    spec.settings.env.remove(PRELOAD_VAR);
    match apply(&settings.jobmanager, &mut spec.settings.env) {
        Applied::Off => {}
        Applied::Used(path) => {
            tracing::info!(event = "cds_archive_used", path = %path.display(), "the JobManager starts with its CDS archive")
        }
        Applied::Missing(path) => tracing::warn!(
            event = "cds_archive_missing",
            path = %path.display(),
            "jobmanager.cds_archive does not exist; the JobManager starts without it (make it with `flink-ha-supervisor make-cds-archive`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[jobmanager]` loaded from a TOML file, with `cds_archive` and `env.JVM_ARGS` when given.
    fn jm(archive: Option<&Path>, jvm_args: Option<&str>) -> JobManagerSettings {
        let mut text =
            String::from("[zookeeper]\nquorum = \"127.0.0.1:2181\"\n[jobmanager]\ncommand = [\"/bin/true\"]\n");
        if let Some(a) = archive {
            text.push_str(&format!("cds_archive = {:?}\n", a.display().to_string()));
        }
        if let Some(j) = jvm_args {
            text.push_str(&format!("[jobmanager.env]\nJVM_ARGS = {j:?}\n"));
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let (settings, _) = Settings::load_with_env(file.path(), Vec::new()).expect("loads");
        assert_eq!(settings.jobmanager.cds_archive.as_deref(), archive);
        settings.jobmanager
    }

    #[test]
    fn an_existing_archive_is_appended_to_the_configured_jvm_args_once() {
        let dir = std::env::temp_dir().join(format!("fhs-cds-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("jm.jsa");
        std::fs::write(&archive, b"x").unwrap();
        let settings = jm(Some(&archive), Some("-Xlog:disable"));
        let mut env = settings.env.clone();
        for _ in 0..2 {
            assert_eq!(apply(&settings, &mut env), Applied::Used(archive.clone()));
        }
        assert_eq!(env[JVM_ARGS_VAR], format!("-Xlog:disable -XX:SharedArchiveFile={}", archive.display()));
        std::fs::remove_file(&archive).unwrap();
        assert_eq!(apply(&settings, &mut env), Applied::Missing(archive.clone()));
        assert_eq!(env[JVM_ARGS_VAR], "-Xlog:disable", "a missing archive leaves the configured JVM_ARGS");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_class_list_beside_the_archive_is_named_for_the_gate_only_when_it_exists() {
        let dir = std::env::temp_dir().join(format!("fhs-cds-list-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("jm.jsa");
        let list = class_list(&archive);
        assert_eq!(list, dir.join("jm.jsa.classes"));
        let settings = jm(Some(&archive), None);
        let mut env = BTreeMap::new();
        assert_eq!(apply_preload(&settings, &mut env), Applied::Missing(list.clone()));
        assert!(env.is_empty(), "a missing list names nothing");
        std::fs::write(&list, b"java/lang/Object id: 0\n").unwrap();
        assert_eq!(apply_preload(&settings, &mut env), Applied::Used(list.clone()));
        assert_eq!(env[PRELOAD_VAR], list.display().to_string());
        std::fs::remove_file(&list).unwrap();
        assert_eq!(apply_preload(&settings, &mut env), Applied::Missing(list));
        assert!(env.is_empty(), "a list that went away is no longer named");
        assert_eq!(apply_preload(&jm(None, None), &mut env), Applied::Off);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unset_means_untouched() {
        let settings = jm(None, None);
        let mut env = BTreeMap::new();
        assert_eq!(apply(&settings, &mut env), Applied::Off);
        assert!(env.is_empty());
        assert_eq!(jvm_args_with_archive(None, Path::new("/a.jsa")), "-XX:SharedArchiveFile=/a.jsa");
    }
}

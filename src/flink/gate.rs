//! The gate of a parked JobManager, the Flink side: with `jobmanager.standby = "parked"` Flink's
//! `high-availability.type` names [`FACTORY_CLASS`], a `HighAvailabilityServicesFactory` whose
//! Java source is `java/gate/` (built by `scripts/build-gate` into `jobmanager.gate_jar`). The
//! JobManager JVM blocks in it, before its ZooKeeper session, BlobServer and REST endpoint,
//! until the fence guard writes one byte to the pipe whose fd number `FLINK_HA_GATE_FD` names;
//! EOF on that pipe halts the JVM. Once at the gate it writes `parked\n` to the pipe whose fd
//! number `FLINK_HA_GATE_READY_FD` names.
//! After the release the class delegates to Flink's own ZooKeeper HA services.
//!
//! This module holds what the daemon needs of it: the class name the rendering writes
//! (`super::render`), the JobManager's environment that puts the jar on its classpath
//! ([`jobmanager_env`]), and the refusal of `run` when the jar is missing ([`jar_refusal`]).

use std::path::Path;

use crate::config::{HaMode, Settings};
use flink_ha_core::machine::Standby;

/// The gate's class, the value of Flink's `high-availability.type` in parked mode.
pub(crate) const FACTORY_CLASS: &str = "flinkha.gate.GatedHaServicesFactory";

/// The variable Flink's scripts (`bin/config.sh`) append to the JobManager's classpath
/// (`INTERNAL_HADOOP_CLASSPATHS`, used by `flink-console.sh` and `flink-daemon.sh`).
pub(crate) const HADOOP_CLASSPATH_VAR: &str = "HADOOP_CLASSPATH";

/// Whether the JobManager of these settings waits at the gate: `jobmanager.standby = "parked"`
/// with Flink's HA rendered by this daemon in mode zookeeper (validation refuses parked
/// otherwise).
pub(crate) fn is_parked(settings: &Settings) -> bool {
    let flink = &settings.flink;
    settings.jobmanager.standby_mode() == Some(Standby::Parked)
        && flink.enabled
        && HaMode::parse(&flink.mode) == Some(HaMode::ZooKeeper)
}

/// The environment variables a JobManager of these settings needs besides its configured ones:
/// in parked mode `HADOOP_CLASSPATH` with `jobmanager.gate_jar` appended to the operator's value
/// (`jobmanager.env`, else the daemon's own environment), so that Flink's scripts, and the
/// command line resolved from them, put the gate on the JobManager's classpath. Empty otherwise.
/// Computed from the configured settings each time, so repeated spawns never accumulate.
pub(crate) fn jobmanager_env(settings: &Settings) -> Vec<(String, String)> {
    if !is_parked(settings) {
        return Vec::new();
    }
    let base =
        settings.jobmanager.env.get(HADOOP_CLASSPATH_VAR).cloned().or_else(|| std::env::var(HADOOP_CLASSPATH_VAR).ok());
    vec![(HADOOP_CLASSPATH_VAR.to_string(), classpath_with(base.as_deref(), &settings.jobmanager.gate_jar))]
}

/// `base` (a `:`-separated classpath, possibly empty) with `jar` appended.
fn classpath_with(base: Option<&str>, jar: &Path) -> String {
    match base.filter(|b| !b.is_empty()) {
        Some(base) => format!("{}:{}", base.trim_end_matches(':'), jar.display()),
        None => jar.display().to_string(),
    }
}

/// Why `run` refuses parked mode, if it does: `jobmanager.gate_jar` is missing, not a regular
/// file, or unreadable. (Every parked JVM would fail to start without it.)
pub(crate) fn jar_refusal(settings: &Settings) -> Option<String> {
    if !is_parked(settings) {
        return None;
    }
    let jar = &settings.jobmanager.gate_jar;
    let problem = match std::fs::metadata(jar) {
        Err(e) => e.to_string(),
        Ok(m) if !m.is_file() => "not a regular file".to_string(),
        Ok(_) => match std::fs::File::open(jar) {
            Err(e) => e.to_string(),
            Ok(_) => return None,
        },
    };
    Some(format!(
        "jobmanager.gate_jar: cannot read {} ({problem}), which jobmanager.standby = \"parked\" needs; build it with `FLINK_HOME=/opt/flink scripts/build-gate {}` from the source tree (the images have it), point jobmanager.gate_jar at it, or set jobmanager.standby = \"cold\"",
        jar.display(),
        jar.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{load, settings, ZK_SECTION};

    fn parked(extra_jobmanager: &str) -> Settings {
        settings(&format!("standby = \"parked\"\n{extra_jobmanager}{ZK_SECTION}"))
    }

    #[test]
    fn the_gate_jar_is_appended_to_the_operators_hadoop_classpath() {
        let s = parked("gate_jar = \"/opt/gate.jar\"\n[jobmanager.env]\nHADOOP_CLASSPATH = \"/opt/hadoop/a.jar:/opt/hadoop/conf:\"\n");
        assert_eq!(
            jobmanager_env(&s),
            [("HADOOP_CLASSPATH".to_string(), "/opt/hadoop/a.jar:/opt/hadoop/conf:/opt/gate.jar".to_string())]
        );
        let s = parked("gate_jar = \"/opt/gate.jar\"\n[jobmanager.env]\nHADOOP_CLASSPATH = \"\"\n");
        assert_eq!(jobmanager_env(&s), [("HADOOP_CLASSPATH".to_string(), "/opt/gate.jar".to_string())]);
        assert_eq!(classpath_with(None, Path::new("/g.jar")), "/g.jar");
        // The default path, and nothing at all in cold mode.
        let s = parked("");
        assert!(jobmanager_env(&s)[0].1.ends_with("/usr/share/flink-ha-supervisor/flink-ha-gate.jar"));
        assert!(jobmanager_env(&settings(ZK_SECTION)).is_empty());
    }

    #[test]
    fn run_refuses_parked_mode_without_a_readable_jar_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("gate.jar");
        let s = parked(&format!("gate_jar = {:?}\n", jar.display().to_string()));
        let refusal = jar_refusal(&s).expect("a missing jar is refused");
        assert!(refusal.starts_with("jobmanager.gate_jar: cannot read "), "{refusal}");
        assert!(refusal.contains("scripts/build-gate") && !refusal.contains('\n'), "{refusal}");
        std::fs::create_dir(&jar).unwrap();
        assert!(jar_refusal(&s).unwrap().contains("not a regular file"));
        std::fs::remove_dir(&jar).unwrap();
        std::fs::write(&jar, b"PK").unwrap();
        assert_eq!(jar_refusal(&s), None);
        // Cold mode never looks at the jar.
        let cold = settings(&format!("gate_jar = \"/nonexistent/gate.jar\"\n{ZK_SECTION}"));
        assert_eq!(jar_refusal(&cold), None);
        assert!(load(&format!("standby = \"parked\"\n{ZK_SECTION}")).is_ok());
    }

    #[test]
    fn parked_mode_renders_the_gate_and_puts_its_jar_on_the_classpath() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("gate.jar");
        std::fs::write(&jar, b"PK").unwrap();
        let conf_dir = dir.path().join("conf");
        let s = settings(&format!(
            "standby = \"parked\"\ngate_jar = {:?}\n{ZK_SECTION}conf_dir = {:?}\n",
            jar.display().to_string(),
            conf_dir.display().to_string()
        ));
        let yaml = crate::flink::render::render(&s).unwrap().unwrap().yaml;
        assert!(yaml.contains(&format!("high-availability.type: {FACTORY_CLASS}\n")), "{yaml}");
        assert_eq!(crate::flink::preflight(&s).map(|_| ()), Ok(()));
        let mut spec =
            crate::process::jobmanager::Spec { guard_exe: "/bin/true".into(), settings: s.jobmanager.clone() };
        crate::flink::prepare_spawn(&s, &mut spec).unwrap();
        crate::flink::prepare_spawn(&s, &mut spec).unwrap();
        let classpath = &spec.settings.env[HADOOP_CLASSPATH_VAR];
        assert!(classpath.ends_with(&jar.display().to_string()), "{classpath}");
        assert_eq!(classpath.matches("gate.jar").count(), 1, "{classpath}");
        // Without the jar, `run` stops at once with the one line.
        std::fs::remove_file(&jar).unwrap();
        let e = crate::flink::preflight(&s).unwrap_err();
        assert!(e.starts_with("jobmanager.gate_jar: "), "{e}");
        // Cold mode renders Flink's own type.
        let cold = settings(ZK_SECTION);
        let yaml = crate::flink::render::render(&cold).unwrap().unwrap().yaml;
        assert!(yaml.contains("high-availability.type: zookeeper\n"), "{yaml}");
    }
}

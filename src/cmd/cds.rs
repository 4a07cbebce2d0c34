//! The JobManager's JVM class-data-sharing (CDS) archive, which cuts its cold start (issue 7;
//! BENCHMARKS.md has the figures).
//!
//! A failover here is a cold start: the new leader's JVM loads and verifies some ten thousand
//! classes before Flink answers. A dynamic CDS archive (Java 13+) holds them pre-parsed; the JVM
//! maps it at start. Two halves:
//!
//! * [`make_archive`] (`flink-ha-supervisor make-cds-archive --config FILE`): runs the
//!   JobManager once, outside the election and with Flink's HA turned off, with
//!   `-XX:ArchiveClassesAtExit`; waits for `ready_url`, stops it with SIGTERM and waits while the
//!   JVM writes the archive at its exit (seconds: longer than any `stop_grace`, which is why the
//!   daemon's own stops cannot make it). Run it on every host, e.g. after installing or
//!   upgrading Java or Flink (delete the old archive first: a stale one is ignored by the JVM).
//! * [`apply`], before every spawn of the daemon: when `jobmanager.cds_archive` exists, the
//!   JobManager gets `-XX:SharedArchiveFile=<path>` appended to `JVM_ARGS`, which Flink's
//!   `bin/flink-console.sh` passes to `java`. A missing archive only costs the speed-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::config::{JobManagerSettings, Settings};

/// The environment variable Flink's scripts put on the `java` command line.
pub const JVM_ARGS_VAR: &str = "JVM_ARGS";

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// `jobmanager.cds_archive` is unset.
    Off,
    /// The archive exists and is passed to the JVM.
    Used(PathBuf),
    /// The archive is configured but missing: the JobManager starts without it.
    Missing(PathBuf),
}

/// `JVM_ARGS` for the JobManager: `base` (from `jobmanager.env`, else the daemon's own
/// environment) with `-XX:SharedArchiveFile=<archive>` appended.
pub fn jvm_args_with_archive(base: Option<&str>, archive: &Path) -> String {
    let flag = format!("-XX:SharedArchiveFile={}", archive.display());
    match base.map(str::trim).filter(|b| !b.is_empty()) {
        Some(base) => format!("{base} {flag}"),
        None => flag,
    }
}

/// Sets `JVM_ARGS` in `env` (the JobManager's environment about to be spawned) from the
/// configured settings `jm`, so that repeated spawns never accumulate flags.
pub fn apply(jm: &JobManagerSettings, env: &mut BTreeMap<String, String>) -> Applied {
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

/// Called by the daemon right before each JobManager spawn; logs what it did.
pub fn prepare_spawn(settings: &Settings, spec: &mut crate::process::jobmanager::Spec) {
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

/// The temporary file the JVM writes; renamed to the archive when complete.
fn partial(archive: &Path) -> PathBuf {
    let mut name = archive.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    archive.with_file_name(name)
}

/// Replaces Flink's HA type in a rendered `config.yaml` by NONE, so that the trial JobManager
/// neither joins Flink's leader election nor touches its HA store.
pub fn ha_off(yaml: &str) -> String {
    let mut out: String = yaml
        .lines()
        .filter(|l| !l.starts_with("high-availability.type:") && !l.starts_with("high-availability:"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("high-availability.type: NONE\n");
    out
}

/// `make-cds-archive`: exit code 0 with the archive written, 1 when it could not be made, 2 for
/// a configuration problem.
pub fn make_archive_main(config: &Path, timeout: Duration) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok((settings, _)) => settings,
        Err(e) => {
            eprintln!("flink-ha-supervisor: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(archive) = settings.jobmanager.cds_archive.clone() else {
        eprintln!("flink-ha-supervisor: jobmanager.cds_archive is not set; set it to the archive's path, e.g. \"/var/lib/flink-ha-supervisor/jobmanager.jsa\"");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(make_archive(&settings, &archive, timeout)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flink-ha-supervisor: make-cds-archive: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs the JobManager once with `-XX:ArchiveClassesAtExit`, stops it, and moves the archive
/// into place. `timeout` bounds the start and, separately, the stop with the dump.
pub async fn make_archive(settings: &Settings, archive: &Path, timeout: Duration) -> anyhow::Result<String> {
    use anyhow::{bail, Context};
    let jm = &settings.jobmanager;
    let probe = crate::process::probe::Probe::new(&jm.ready_url, Duration::from_secs(1));
    if probe.check().await {
        bail!(
            "{} answers already: a JobManager runs on this host; run make-cds-archive where none runs (a standby, or before the daemon starts)",
            jm.ready_url
        );
    }
    let mut env = jm.env.clone();
    let scratch = tempfile_dir()?;
    if settings.flink.enabled {
        // Flink's configuration as the daemon renders it, but with HA off.
        let mut trial = settings.clone();
        trial.flink.conf_dir = scratch.clone();
        if let Some(rendered) = crate::flink::render::render(&trial)? {
            rendered.write()?;
            let path = rendered.config_path();
            let yaml = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
            std::fs::write(&path, ha_off(&yaml)).with_context(|| format!("write {}", path.display()))?;
            env.insert(crate::flink::model::FLINK_CONF_DIR_VAR.to_string(), scratch.display().to_string());
        }
    }
    let part = partial(archive);
    let _ = std::fs::remove_file(&part);
    if let Some(dir) = archive.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let base = env.get(JVM_ARGS_VAR).cloned().or_else(|| std::env::var(JVM_ARGS_VAR).ok()).unwrap_or_default();
    env.insert(
        JVM_ARGS_VAR.to_string(),
        format!("{base} -XX:ArchiveClassesAtExit={}", part.display()).trim().to_string(),
    );

    let (program, args) = jm.command.split_first().context("jobmanager.command is empty")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).envs(&env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    if let Some(dir) = &jm.workdir {
        cmd.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("start {program}"))?;
    let pid = child.id().context("the JobManager has no pid")? as i32;
    let group = nix::unistd::Pid::from_raw(pid);
    let ready = loop {
        if probe.check().await {
            break started.elapsed();
        }
        if let Some(status) = child.try_wait()? {
            let _ = std::fs::remove_dir_all(&scratch);
            bail!("the JobManager exited ({status}) before {} answered", jm.ready_url);
        }
        if started.elapsed() > timeout {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait().await;
            let _ = std::fs::remove_dir_all(&scratch);
            bail!("{} did not answer within {timeout:?}", jm.ready_url);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stopping = Instant::now();
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
    let exited = tokio::time::timeout(timeout, child.wait()).await;
    let _ = std::fs::remove_dir_all(&scratch);
    if exited.is_err() {
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait().await;
        let _ = std::fs::remove_file(&part);
        bail!("the JobManager did not exit within {timeout:?} of its SIGTERM (writing the archive); nothing written");
    }
    let stop = stopping.elapsed();
    let size = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        bail!("the JVM wrote no archive ({}); does this Java support -XX:ArchiveClassesAtExit (13+)?", part.display());
    }
    std::fs::rename(&part, archive).with_context(|| format!("rename {} to {}", part.display(), archive.display()))?;
    Ok(format!(
        "wrote {} ({} MiB): the JobManager answered after {:.1}s; its stop with the dump took {:.1}s",
        archive.display(),
        size >> 20,
        ready.as_secs_f64(),
        stop.as_secs_f64()
    ))
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("fhs-cds-{}-{}", std::process::id(), crate::process::mono::boot_ns()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
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
    fn unset_means_untouched() {
        let settings = jm(None, None);
        let mut env = BTreeMap::new();
        assert_eq!(apply(&settings, &mut env), Applied::Off);
        assert!(env.is_empty());
        assert_eq!(jvm_args_with_archive(None, Path::new("/a.jsa")), "-XX:SharedArchiveFile=/a.jsa");
    }

    #[test]
    fn the_trial_runs_without_ha() {
        let yaml = "a: 1\nhigh-availability.type: zookeeper\nhigh-availability.storageDir: file:///x\n";
        assert_eq!(ha_off(yaml), "a: 1\nhigh-availability.storageDir: file:///x\nhigh-availability.type: NONE\n");
    }
}

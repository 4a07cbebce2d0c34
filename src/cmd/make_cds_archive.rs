//! `flink-ha-supervisor make-cds-archive --config FILE`: makes the JobManager's JVM
//! class-data-sharing (CDS) archive, which `crate::process::cds` passes to every JobManager the
//! daemon starts.
//!
//! A failover here is a cold start: the new leader's JVM loads and verifies some ten thousand
//! classes before Flink answers. A dynamic CDS archive (Java 13+) holds them pre-parsed; the JVM
//! maps it at start. This command runs the JobManager once, outside the election and with
//! Flink's HA turned off, with `-XX:ArchiveClassesAtExit`; waits for `ready_url`, stops it with
//! SIGTERM and waits while the JVM writes the archive at its exit (seconds: longer than any
//! `stop_grace`, which is why the daemon's own stops cannot make it). Run it on every host, e.g.
//! after installing or upgrading Java or Flink (delete the old archive first: a stale one is
//! ignored by the JVM).
//!
//! The same start writes the list of the classes the JobManager loaded
//! (`-XX:DumpLoadedClassList`) beside the archive, `<archive>.classes`
//! (`crate::process::cds::class_list`): a parked JobManager loads them at its gate while it
//! waits, so that they are there when it is released.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::{load_settings, refuse};
use crate::config::flink_ha::FLINK_CONF_DIR_VAR;
use crate::config::Settings;
use crate::process::cds::JVM_ARGS_VAR;

/// `make-cds-archive`: exit code 0 with the archive written, 1 when it could not be made, 2 for
/// a configuration problem.
pub(crate) fn main(config: &Path, timeout: Duration) -> ExitCode {
    let settings = match load_settings(config) {
        Ok((settings, _)) => settings,
        Err(code) => return code,
    };
    let Some(archive) = settings.jobmanager.cds_archive.clone() else {
        return refuse("jobmanager.cds_archive is not set; set it to the archive's path, e.g. \"/var/lib/flink-ha-supervisor/jobmanager.jsa\"");
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
pub(crate) async fn make_archive(settings: &Settings, archive: &Path, timeout: Duration) -> anyhow::Result<String> {
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
    if settings.flink.enabled && crate::flink::trial::write_without_ha(settings, &scratch)? {
        env.insert(FLINK_CONF_DIR_VAR.to_string(), scratch.display().to_string());
    }
    let part = partial(archive);
    let list = crate::process::cds::class_list(archive);
    let list_part = partial(&list);
    let _ = std::fs::remove_file(&part);
    let _ = std::fs::remove_file(&list_part);
    if let Some(dir) = archive.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let base = env.get(JVM_ARGS_VAR).cloned().or_else(|| std::env::var(JVM_ARGS_VAR).ok()).unwrap_or_default();
    env.insert(
        JVM_ARGS_VAR.to_string(),
        format!("{base} -XX:ArchiveClassesAtExit={} -XX:DumpLoadedClassList={}", part.display(), list_part.display())
            .trim()
            .to_string(),
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
            let _ = std::fs::remove_file(&list_part);
            bail!("the JobManager exited ({status}) before {} answered", jm.ready_url);
        }
        if started.elapsed() > timeout {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait().await;
            let _ = std::fs::remove_dir_all(&scratch);
            let _ = std::fs::remove_file(&list_part);
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
        let _ = std::fs::remove_file(&list_part);
        bail!("the JobManager did not exit within {timeout:?} of its SIGTERM (writing the archive); nothing written");
    }
    let stop = stopping.elapsed();
    let size = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        let _ = std::fs::remove_file(&list_part);
        bail!("the JVM wrote no archive ({}); does this Java support -XX:ArchiveClassesAtExit (13+)?", part.display());
    }
    std::fs::rename(&part, archive).with_context(|| format!("rename {} to {}", part.display(), archive.display()))?;
    let classes = std::fs::read_to_string(&list_part).map(|t| t.lines().count()).unwrap_or(0);
    let listed = if classes > 0 {
        std::fs::rename(&list_part, &list)
            .with_context(|| format!("rename {} to {}", list_part.display(), list.display()))?;
        format!("{} ({classes} classes)", list.display())
    } else {
        let _ = std::fs::remove_file(&list_part);
        let _ = std::fs::remove_file(&list);
        "no class list (the JVM wrote none)".to_string()
    };
    Ok(format!(
        "wrote {} ({} MiB) and {listed}: the JobManager answered after {:.1}s; its stop with the dump took {:.1}s",
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

/// The temporary file the JVM writes; renamed to the archive when complete.
fn partial(archive: &Path) -> PathBuf {
    let mut name = archive.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    archive.with_file_name(name)
}

//! Flink's own high-availability configuration, owned by the daemon.
//!
//! The `[flink]` section, its defaults and its rules belong to the configuration
//! ([`crate::config::flink_ha`], resolved into [`HaConfig`](crate::config::HaConfig)); this module puts them to use:
//!
//! * [`render`] — merges the user's Flink `config.yaml` with the generated HA keys and writes it
//!   where `FLINK_CONF_DIR` of the JobManager points.
//! * [`trial`] — Flink's configuration for a trial JobManager run outside the election, with HA off.
//! * [`jaas`] — Flink's own JAAS file (`flink.zookeeper_jaas_file`), checked when the settings load.
//! * [`gate`] — the gate of a parked JobManager (`jobmanager.standby = "parked"`): its class name,
//!   the JobManager's classpath for it, and the refusal when its jar is missing.
//!
//! With Flink's HA services on, a new JobManager recovers the jobs of the old one (job graphs and
//! checkpoints in `high-availability.storageDir`, pointers in ZooKeeper) once it leads Flink's
//! own leader election; docs/ARCHITECTURE.md gives the timing argument.

pub(crate) mod gate;
pub(crate) mod jaas;
pub(crate) mod render;
pub(crate) mod trial;

#[cfg(test)]
mod ha_tests;

use std::path::Path;

use crate::config::flink_ha::FLINK_CONF_DIR_VAR;
use crate::config::{ConfigWarning, HaMode, Settings};
use crate::process::jobmanager::Spec;

/// Called by the daemon right before each JobManager spawn: renders and writes Flink's
/// configuration and points the JobManager's `FLINK_CONF_DIR` at it. Does nothing when Flink's
/// HA is off. An error is reported like a failed spawn. (The base's warnings were logged by
/// [`preflight`] at the start.)
pub(crate) fn prepare_spawn(settings: &Settings, spec: &mut Spec) -> std::io::Result<()> {
    let Some(rendered) = render::render(settings).map_err(std::io::Error::other)? else {
        return Ok(());
    };
    rendered.write().map_err(std::io::Error::other)?;
    let conf_dir = rendered.conf_dir.display().to_string();
    tracing::info!(
        event = "flink_config_rendered",
        path = %rendered.config_path().display(),
        base = rendered.base.as_ref().map(|b| b.display().to_string()),
        replaced = rendered.replaced.join(","),
        "wrote Flink's configuration for the JobManager"
    );
    spec.settings.env.insert(FLINK_CONF_DIR_VAR.to_string(), conf_dir);
    // The rendered configuration names the gate's class in parked mode: its jar goes on the classpath.
    spec.settings.env.extend(gate::jobmanager_env(settings));
    Ok(())
}

/// Checks at the start of `run`, before anything else: refuses mode kubernetes and parked mode
/// without its gate jar, and renders and
/// writes Flink's configuration once, so that a missing or broken base file stops the daemon at
/// once (exit code 2) instead of failing every JobManager start. Returns the warnings.
pub(crate) fn preflight(settings: &Settings) -> Result<Vec<ConfigWarning>, String> {
    if let Some(refusal) = run_refusal(settings) {
        return Err(refusal);
    }
    match render::render(settings) {
        Ok(None) => Ok(Vec::new()),
        Ok(Some(rendered)) => {
            rendered.write().map_err(|e| e.to_string())?;
            Ok(rendered.warnings)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Why `run` refuses these settings, if it does: mode kubernetes, or parked mode without a
/// readable `jobmanager.gate_jar`.
pub(crate) fn run_refusal(settings: &Settings) -> Option<String> {
    let f = &settings.flink;
    if let Some(refusal) = gate::jar_refusal(settings) {
        return Some(refusal);
    }
    (f.enabled && HaMode::parse(&f.mode) == Some(HaMode::Kubernetes)).then(|| {
        "flink.mode = \"kubernetes\": on Kubernetes, Flink's own HA services elect the leading JobManager among the pods of its deployment and Kubernetes restarts failed pods, so this daemon is not needed there and does not run; put the keys `flink-ha-supervisor render-flink-config` prints into Flink's configuration, or set flink.mode = \"zookeeper\" for JobManager hosts outside Kubernetes".to_string()
    })
}

/// A warning when the rendered configuration cannot be written where configured: the nearest
/// existing ancestor of `conf_dir` is not a writable directory (for the user running this).
pub(crate) fn conf_dir_warning(conf_dir: &Path) -> Option<ConfigWarning> {
    let existing = conf_dir.ancestors().find(|p| p.exists())?;
    let writable = existing.is_dir() && nix::unistd::access(existing, nix::unistd::AccessFlags::W_OK).is_ok();
    (!writable).then(|| ConfigWarning {
        key: "flink.conf_dir".into(),
        message: format!(
            "{} cannot be written by this user ({} is not a writable directory); the daemon must be able to create it and write config.yaml there",
            conf_dir.display(),
            existing.display()
        ),
    })
}

/// The fingerprint of the Flink configuration a JobManager started now would get: its rendered
/// `config.yaml` and whether the class-data-sharing archive is there. `None` when it cannot be
/// rendered. Compared by the machine with the one a parked JobManager was started with.
pub(crate) fn fingerprint(settings: &Settings) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let rendered = render::render(settings).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    rendered.map(|r| r.yaml).hash(&mut hasher);
    settings.jobmanager.cds_archive.as_ref().is_some_and(|p| p.exists()).hash(&mut hasher);
    Some(hasher.finish())
}

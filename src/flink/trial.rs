//! Flink's configuration for a trial run of the JobManager outside the election (the one
//! `make-cds-archive` starts): as the daemon renders it, but with Flink's HA services off, so
//! that the trial neither joins Flink's leader election nor touches its HA store.

use std::path::Path;

use anyhow::Context as _;

use crate::config::Settings;

/// Renders Flink's configuration for `settings` into `conf_dir` with HA off. Returns whether it
/// wrote one: `false` when Flink's HA is off, and the JobManager runs with its own configuration.
pub(crate) fn write_without_ha(settings: &Settings, conf_dir: &Path) -> anyhow::Result<bool> {
    let mut trial = settings.clone();
    trial.flink.conf_dir = conf_dir.to_path_buf();
    let Some(rendered) = super::render::render(&trial)? else {
        return Ok(false);
    };
    rendered.write()?;
    let path = rendered.config_path();
    let yaml = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    std::fs::write(&path, ha_off(&yaml)).with_context(|| format!("write {}", path.display()))?;
    Ok(true)
}

/// Replaces Flink's HA type in a rendered `config.yaml` by NONE, so that the trial JobManager
/// neither joins Flink's leader election nor touches its HA store.
pub(crate) fn ha_off(yaml: &str) -> String {
    let mut out: String = yaml
        .lines()
        .filter(|l| !l.starts_with("high-availability.type:") && !l.starts_with("high-availability:"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("high-availability.type: NONE\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trial_runs_without_ha() {
        let yaml = "a: 1\nhigh-availability.type: zookeeper\nhigh-availability.storageDir: file:///x\n";
        assert_eq!(ha_off(yaml), "a: 1\nhigh-availability.storageDir: file:///x\nhigh-availability.type: NONE\n");
    }
}

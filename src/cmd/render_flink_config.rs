//! `render-flink-config --config FILE`: prints the `config.yaml` the daemon would write before it
//! starts the JobManager. Writes nothing.
//!
//! The configuration is loaded as `run` loads it; a refused one is one line on stderr and exit
//! code 2; warnings are lines on stderr prefixed `warning:`; the rendered file goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use super::{emit, load_settings, print_warnings, refuse};
use crate::config;
use crate::config::flink_ha::FLINK_CONF_DIR_VAR;
use crate::flink::{self, render};

/// Exit code when Flink's HA is off: nothing to render.
const EXIT_NOTHING_TO_RENDER: u8 = 1;

/// Runs `render-flink-config`; returns its exit code.
pub(crate) fn main(path: &Path) -> ExitCode {
    let (settings, mut warnings) = match load_settings(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let rendered = match render::render(&settings) {
        Ok(Some(rendered)) => rendered,
        Ok(None) => {
            eprintln!(
                "flink-ha-supervisor: flink.enabled is false or flink.mode is \"none\": the daemon renders no Flink configuration and starts the JobManager with its own; set flink.enabled = true and flink.storage_dir to render one"
            );
            return ExitCode::from(EXIT_NOTHING_TO_RENDER);
        }
        Err(e) => return refuse(e),
    };
    warnings.extend(rendered.warnings.iter().cloned());
    print_warnings(&warnings);
    let kubernetes = config::HaMode::parse(&settings.flink.mode) == Some(config::HaMode::Kubernetes);
    let note = match flink::run_refusal(&settings) {
        Some(_) if kubernetes => "# Mode kubernetes: put these keys into the Flink configuration of the Kubernetes deployment\n# (`run` refuses this mode: Flink's own HA elects the JobManager there).\n".to_string(),
        refusal => format!(
            "{}# Written to {} before each JobManager start, with {FLINK_CONF_DIR_VAR}={}.\n",
            refusal.map(|r| format!("# `run` refuses this configuration: {r}\n")).unwrap_or_default(),
            rendered.config_path().display(),
            rendered.conf_dir.display()
        ),
    };
    emit(&format!("{note}{}", rendered.yaml))
}

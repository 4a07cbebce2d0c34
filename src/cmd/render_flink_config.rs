//! `render-flink-config --config FILE [--for taskmanager]`: prints the `config.yaml` the daemon
//! would write before it starts the JobManager, or the one for TaskManagers and clients (the
//! same, but Flink's own `high-availability.type`: the gate of a parked JobManager is the
//! JobManager's alone). Writes nothing.
//!
//! The configuration is loaded as `run` loads it, but without the daemons' own ZooKeeper secrets
//! (`zookeeper.password_file`/`password_env`, the TLS files), which the rendering never uses: a
//! TaskManager host renders its configuration without holding the daemons' identity. Flink's
//! own JAAS file (`flink.zookeeper_jaas_file`) is read and checked, since every Flink process
//! needs it. A refused configuration is one line on stderr and exit code 2; warnings are lines
//! on stderr prefixed `warning:`; the rendered file goes to stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{emit, load_settings_without_secrets, print_warnings, refuse};
use crate::config;
use crate::config::flink_ha::FLINK_CONF_DIR_VAR;
use crate::flink::{self, render};

/// Exit code when Flink's HA is off: nothing to render.
const EXIT_NOTHING_TO_RENDER: u8 = 1;

/// Which Flink process the configuration is for.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Process {
    /// The JobManager the daemon starts (what `run` writes).
    Jobmanager,
    /// A TaskManager or a client (`flink run`): Flink's own ZooKeeper HA type, never the gate.
    Taskmanager,
}

/// The arguments of `render-flink-config`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Args {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub(crate) config: PathBuf,
    /// The Flink process the configuration is for.
    #[arg(long = "for", value_enum, default_value = "jobmanager")]
    pub(crate) process: Process,
}

/// Runs `render-flink-config`; returns its exit code.
pub(crate) fn main(args: &Args) -> ExitCode {
    let (mut settings, mut warnings) = match load_settings_without_secrets(&args.config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if args.process == Process::Taskmanager {
        // A parked JobManager's gate needs the pipes only the fence guard gives it.
        settings.jobmanager.standby = "cold".to_string();
    }
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
        _ if args.process == Process::Taskmanager => {
            "# For TaskManagers and clients (the JobManager's own: without --for).\n".to_string()
        }
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

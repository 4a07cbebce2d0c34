//! The `check-config` and `render-flink-config` subcommands: what the daemon would run with,
//! without running it.
//!
//! Both load the configuration exactly as `run` does (file, `FHS_` environment, defaults,
//! validation). A refused configuration is one line on stderr and exit code 2; warnings are lines
//! on stderr prefixed `warning:`; the result goes to stdout.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value as Json;

use super::{render, run_refusal};
use crate::config::flink_ha::{CONFIG_FILE_NAME, FLINK_CONF_DIR_VAR};
use crate::config::{self, ConfigWarning, HaConfig, Settings};

/// Exit code for a configuration that is refused (as `run`'s).
pub const EXIT_INVALID: u8 = 2;

/// Exit code of `render-flink-config` when Flink's HA is off: nothing to render.
pub const EXIT_NOTHING_TO_RENDER: u8 = 1;

/// `check-config --config FILE`: validates everything `run` would (the settings, and the base
/// Flink configuration if Flink's HA is on) and prints the effective settings as TOML, one
/// dotted key per line.
pub fn check_config(path: &Path) -> ExitCode {
    let Some((settings, mut warnings)) = load(path) else {
        return ExitCode::from(EXIT_INVALID);
    };
    // Everything `run` checks before it starts, in the same order.
    if let Err(e) = settings.check_host() {
        return refuse(&e.to_string());
    }
    let ha = match HaConfig::resolve(&settings) {
        Ok((ha, _)) => ha,
        Err(e) => return refuse(&e.to_string()),
    };
    match render::render(&settings) {
        Ok(rendered) => warnings.extend(rendered.map(|r| r.warnings).unwrap_or_default()),
        Err(e) => return refuse(&e.to_string()),
    }
    if let Some(ha) = &ha {
        warnings.extend(conf_dir_warning(&ha.conf_dir));
    }
    print_warnings(&warnings);

    let mut out = format!(
        "# {} is valid ({} warning{}). Effective settings: defaults, the file and FHS_ variables merged.\n",
        path.display(),
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    let mut tree = serde_json::to_value(&settings).expect("settings serialize");
    if let Some(ha) = &ha {
        tree["flink"] = serde_json::to_value(ha.effective(&settings.flink)).expect("flink settings serialize");
    }
    for key in config::known_keys() {
        let (section, name) = key.split_once('.').expect("dotted key");
        match tree.get(section).and_then(|s| s.get(name)) {
            Some(value) => out.push_str(&format!("{key} = {}\n", toml_value(value))),
            None => out.push_str(&format!("# {key}: unset\n")),
        }
    }
    match &ha {
        None => out.push_str("# Flink's HA configuration is off: `run` starts the JobManager with its own configuration.\n"),
        Some(ha) => match run_refusal(&settings) {
            Some(refusal) => out.push_str(&format!("# run refuses this configuration: {refusal}\n")),
            None => out.push_str(&format!(
                "# Before each JobManager start `run` writes {} and sets {FLINK_CONF_DIR_VAR}={} (see render-flink-config).\n",
                ha.conf_dir.join(CONFIG_FILE_NAME).display(),
                ha.conf_dir.display()
            )),
        },
    }
    emit(&out)
}

/// `render-flink-config --config FILE`: prints the `config.yaml` the daemon would write before
/// it starts the JobManager. Writes nothing.
pub fn render_flink_config(path: &Path) -> ExitCode {
    let Some((settings, mut warnings)) = load(path) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let rendered = match render::render(&settings) {
        Ok(Some(rendered)) => rendered,
        Ok(None) => {
            eprintln!(
                "flink-ha-supervisor: flink.enabled is false or flink.mode is \"none\": the daemon renders no Flink configuration and starts the JobManager with its own; set flink.enabled = true and flink.storage_dir to render one"
            );
            return ExitCode::from(EXIT_NOTHING_TO_RENDER);
        }
        Err(e) => return refuse(&e.to_string()),
    };
    warnings.extend(rendered.warnings.iter().cloned());
    print_warnings(&warnings);
    let note = match run_refusal(&settings) {
        Some(_) => "# Mode kubernetes: put these keys into the Flink configuration of the Kubernetes deployment\n# (`run` refuses this mode: Flink's own HA elects the JobManager there).\n".to_string(),
        None => format!(
            "# Written to {} before each JobManager start, with {FLINK_CONF_DIR_VAR}={}.\n",
            rendered.config_path().display(),
            rendered.conf_dir.display()
        ),
    };
    emit(&format!("{note}{}", rendered.yaml))
}

/// Loads like `run`; prints the error and returns `None` when the configuration is refused.
fn load(path: &Path) -> Option<(Settings, Vec<ConfigWarning>)> {
    match Settings::load(path) {
        Ok(loaded) => Some(loaded),
        Err(e) => {
            eprintln!("flink-ha-supervisor: {e}");
            None
        }
    }
}

fn refuse(message: &str) -> ExitCode {
    eprintln!("flink-ha-supervisor: {message}");
    ExitCode::from(EXIT_INVALID)
}

fn print_warnings(warnings: &[ConfigWarning]) {
    for warning in warnings {
        eprintln!("flink-ha-supervisor: warning: {warning}");
    }
}

/// Prints to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// A warning when the rendered configuration cannot be written where configured: the nearest
/// existing ancestor of `conf_dir` is not a writable directory (for the user running this).
fn conf_dir_warning(conf_dir: &Path) -> Option<ConfigWarning> {
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

/// A JSON value of the serialized settings as a TOML value (JSON string escapes are valid in
/// TOML basic strings).
fn toml_value(value: &Json) -> String {
    match value {
        Json::Null => "\"\"".to_string(),
        Json::Bool(_) | Json::Number(_) | Json::String(_) => value.to_string(),
        Json::Array(items) => format!("[{}]", items.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Json::Object(entries) if entries.is_empty() => "{}".to_string(),
        Json::Object(entries) => format!(
            "{{ {} }}",
            entries
                .iter()
                .map(|(k, v)| format!("{} = {}", Json::String(k.clone()), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

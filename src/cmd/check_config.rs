//! `check-config --config FILE`: validates everything `run` would (the settings, and the base
//! Flink configuration if Flink's HA is on) and prints the effective settings as TOML, one dotted
//! key per line, without running anything.
//!
//! A refused configuration is one line on stderr and exit code 2; warnings are lines on stderr
//! prefixed `warning:`; the result goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value as Json;

use super::{emit, load_settings, print_warnings, refuse};
use crate::config::flink_ha::{CONFIG_FILE_NAME, FLINK_CONF_DIR_VAR};
use crate::config::{self, HaConfig};
use crate::flink::{self, render};

/// Runs `check-config`; returns its exit code.
pub(crate) fn main(path: &Path) -> ExitCode {
    let (settings, mut warnings) = match load_settings(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // Everything `run` checks before it starts, in the same order.
    if let Err(e) = settings.check_host() {
        return refuse(e);
    }
    let ha = match HaConfig::resolve(&settings) {
        Ok((ha, _)) => ha,
        Err(e) => return refuse(e),
    };
    match render::render(&settings) {
        Ok(rendered) => warnings.extend(rendered.map(|r| r.warnings).unwrap_or_default()),
        Err(e) => return refuse(e),
    }
    if let Some(ha) = &ha {
        warnings.extend(flink::conf_dir_warning(&ha.conf_dir));
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
    let zookeeper = &settings.zookeeper;
    match (zookeeper.auth_on(), zookeeper.world_readable) {
        (false, _) => out.push_str("# zookeeper.auth = \"none\": the daemons' nodes in ZooKeeper are open to anyone who reaches the ensemble (docs/configuration.md, \"Securing it\").\n"),
        (true, readable) if zookeeper.auth_mode() == Some(config::AuthMode::Kerberos) => out.push_str(&format!(
            "# The daemons' nodes are writable by Kerberos principal {} alone{}; its keys are read from {}.\n",
            zookeeper.principal.as_deref().unwrap_or_default(),
            if readable { " and readable by anyone" } else { ", and readable by it alone" },
            zookeeper.keytab.as_deref().unwrap_or(std::path::Path::new("")).display(),
        )),
        (true, readable) => out.push_str(&format!(
            "# The daemons' nodes are writable by ZooKeeper user {} alone{}; its password is read from {}.\n",
            zookeeper.user.as_deref().unwrap_or_default(),
            if readable { " and readable by anyone" } else { ", and readable by it alone" },
            match (&zookeeper.password_file, &zookeeper.password_env) {
                (Some(file), _) => file.display().to_string(),
                (None, Some(var)) => format!("the environment variable {var}"),
                (None, None) => "nowhere".to_string(),
            }
        )),
    }
    match &ha {
        None => out.push_str("# Flink's HA configuration is off: `run` starts the JobManager with its own configuration.\n"),
        Some(ha) => match flink::run_refusal(&settings) {
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

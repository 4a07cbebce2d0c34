//! `jobmanager-command --config FILE`: prints, as one JSON object, the command line `run`
//! starts the JobManager with (`jobmanager.launch`, see `crate::process::launch`): with
//! `"direct"`, the `java` command line resolved from Flink's scripts (which takes a few seconds
//! and starts no JobManager), else the command as configured, with the reason.
//!
//! Like `run` before each start, it writes the rendered Flink configuration ([flink]) where
//! `FLINK_CONF_DIR` of the JobManager points, since the scripts read it. A refused configuration
//! is one line on stderr and exit code 2.

use std::path::Path;
use std::process::ExitCode;

use super::{emit, load_settings, print_warnings, refuse};
use crate::process::jobmanager::Spec;
use crate::process::launch::{self, Launch, LAUNCH_SCRIPT};

/// Runs `jobmanager-command`; returns its exit code.
pub(crate) fn main(path: &Path) -> ExitCode {
    let (settings, warnings) = match load_settings(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    print_warnings(&warnings);
    let guard_exe = std::env::current_exe().unwrap_or_default();
    let mut spec = Spec { guard_exe, settings: settings.jobmanager.clone() };
    if let Err(e) = crate::flink::prepare_spawn(&settings, &mut spec) {
        return refuse(format!("cannot write Flink's configuration: {e}"));
    }
    crate::process::cds::apply(&settings.jobmanager, &mut spec.settings.env);
    let (launch, why) = if settings.jobmanager.launch == LAUNCH_SCRIPT {
        (Launch::configured(&spec), Some("jobmanager.launch = \"script\"".to_string()))
    } else {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return refuse(format!("cannot start the async runtime: {e}")),
        };
        match runtime.block_on(launch::resolve(&spec)) {
            Ok(launch) => (launch, None),
            Err(why) => (Launch::configured(&spec), Some(why)),
        }
    };
    let fingerprint = launch::fingerprint(&spec).ok().map(|f| format!("{f:016x}"));
    let env: serde_json::Map<String, serde_json::Value> =
        launch.env.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    let out = serde_json::json!({
        "launch": if why.is_none() { "direct" } else { "as-configured" },
        "why": why,
        "argv": launch.argv,
        "env": env,
        "jobmanager_env": spec.settings.env,
        "fingerprint": fingerprint,
    });
    emit(&format!("{out}\n"))
}

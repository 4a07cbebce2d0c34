//! Direct launch of the JobManager (`jobmanager.launch = "direct"`): the `java` command line that
//! Flink's `bin/jobmanager.sh start-foreground` would build is resolved ahead of time, off the
//! failover's critical path, and at spawn the fence guard runs that command line itself. The
//! scripts start two helper JVMs (`BashJavaUtils`) before the JobManager's own; the direct
//! launch skips them.
//!
//! How it resolves: it runs the configured command with the JobManager's environment, except
//! that `JAVA_HOME` (and the front of `PATH`) point to a directory of its own whose `bin/java`
//! runs the real `java` for the helper calls and, for the final call, writes its arguments, its
//! environment and where its output goes to files and exits. Two more things make sure that a
//! resolution never starts a JobManager: it only ever runs Flink's own `jobmanager.sh
//! start-foreground` (whose last step is `exec "$JAVA_RUN" $JVM_ARGS ...`) with a configuration
//! that does not name its own `env.java.home`, and the `JVM_ARGS` it passes end in a marker and
//! `-version`, so that a real `java` reached all the same prints its version and exits.
//!
//! The command line depends on the JobManager's environment (`FLINK_CONF_DIR`, `JVM_ARGS` with
//! the CDS archive, `HADOOP_CLASSPATH`, ...), on the rendered `config.yaml` (memory sizes), on
//! the scripts and the jars of the distribution and on the host name: a [`fingerprint`] of all
//! of them keys the resolved command line. At spawn, a matching fingerprint runs it directly;
//! otherwise this start goes through the script and a new resolution starts in the background.
//! A command that is not Flink's `jobmanager.sh`, or a resolution that fails, runs the command
//! as configured; the reason is logged once.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::flink_ha::FLINK_CONF_DIR_VAR;
use crate::config::Settings;
use crate::process::jobmanager::Spec;

/// The class Flink's scripts start for a session cluster's JobManager.
pub(crate) const ENTRYPOINT_CLASS: &str = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint";

/// `jobmanager.launch` values.
pub(crate) const LAUNCH_DIRECT: &str = "direct";
/// `jobmanager.launch = "script"`: always run the command as configured.
pub(crate) const LAUNCH_SCRIPT: &str = "script";

/// The longest a resolution may take before it is killed. It runs off the critical path (at the
/// start and when the inputs change) and a timeout only means running the scripts until the next
/// resolution, so it is generous: its two helper JVMs took over 60 s on a two-core host under a
/// load of 10.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(180);

/// The nice value of the resolution (and the helper JVMs it starts).
const RESOLVE_NICE: libc::c_int = 19;

/// The variable that tells the stand-in `java` where to write what it saw.
const OUT_VAR: &str = "FLINK_HA_LAUNCH_OUT";

/// The scripts of the distribution whose contents shape the command line.
const SCRIPTS: &[&str] =
    &["jobmanager.sh", "config.sh", "flink-console.sh", "bash-java-utils.sh", "config-parser-utils.sh"];

/// What the fence guard runs: a program with its arguments, and variables set on top of the
/// JobManager's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables set on top of the JobManager's environment (what Flink's scripts export).
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The command as configured, with the JobManager's environment as it is.
    pub(crate) fn configured(spec: &Spec) -> Launch {
        Launch { argv: spec.settings.command.clone(), env: Vec::new() }
    }
}

/// The resolved command line for one fingerprint, shared by the resolving tasks and the spawns.
#[derive(Default)]
struct State {
    resolved: Option<(u64, Launch)>,
    /// The fingerprint a resolution runs for right now.
    resolving: Option<u64>,
    /// Reasons already logged, so each is logged once.
    logged: BTreeSet<String>,
}

/// Chooses, at each spawn, between the resolved command line and the configured command, and
/// keeps the resolution up to date. Cheap to clone (shared state).
#[derive(Clone)]
pub(crate) struct Launcher {
    direct: bool,
    state: Arc<Mutex<State>>,
}

impl Launcher {
    /// A launcher for `jobmanager.launch` = `mode`.
    pub(crate) fn new(mode: &str) -> Launcher {
        Launcher { direct: mode == LAUNCH_DIRECT, state: Arc::default() }
    }

    /// At the daemon's start: resolves the command line in the background for the JobManager's
    /// environment as the next spawn will prepare it (Flink's rendered configuration, the CDS
    /// archive).
    pub(crate) fn start(&self, settings: &Settings, spec: &Spec) {
        if !self.direct {
            return;
        }
        let mut spec = spec.clone();
        if let Ok(Some(rendered)) = crate::flink::render::render(settings) {
            spec.settings.env.insert(FLINK_CONF_DIR_VAR.to_string(), rendered.conf_dir.display().to_string());
        }
        crate::process::cds::apply(&settings.jobmanager, &mut spec.settings.env);
        spec.settings.env.extend(crate::flink::gate::jobmanager_env(settings));
        self.resolve_in_background(&spec);
    }

    /// What to run for this spawn of `spec` (prepared as it is spawned). Never waits: a command
    /// line that is not resolved for these inputs yet means the configured command for this
    /// start, and a resolution in the background for the next.
    pub(crate) fn choose(&self, spec: &Spec) -> Launch {
        if !self.direct {
            return Launch::configured(spec);
        }
        let fingerprint = match fingerprint(spec) {
            Ok(f) => f,
            Err(why) => {
                self.log_once(&why);
                return Launch::configured(spec);
            }
        };
        let resolved = self.lock().resolved.clone();
        match resolved {
            Some((f, launch)) if f == fingerprint => {
                tracing::info!(
                    event = "jobmanager_direct_launch",
                    java = launch.argv[0],
                    "starting the JobManager's JVM directly"
                );
                launch
            }
            _ => {
                tracing::info!(
                    event = "jobmanager_script_launch",
                    "the JobManager's command line for these inputs is not resolved yet; this start runs the script, the next one the JVM directly"
                );
                self.resolve_in_background(spec);
                Launch::configured(spec)
            }
        }
    }

    /// Resolves the command line for `spec` in a task of its own, unless it is resolved, or
    /// being resolved, for these inputs already.
    pub(crate) fn resolve_in_background(&self, spec: &Spec) {
        let fingerprint = match fingerprint(spec) {
            Ok(f) => f,
            Err(why) => return self.log_once(&why),
        };
        {
            let mut state = self.lock();
            if state.resolving == Some(fingerprint) || state.resolved.as_ref().is_some_and(|(f, _)| *f == fingerprint) {
                return;
            }
            state.resolving = Some(fingerprint);
        }
        let (launcher, spec) = (self.clone(), spec.clone());
        crate::daemon::supervise::spawn("launch-resolve", async move {
            let started = Instant::now();
            let result = resolve(&spec).await;
            let after = crate::process::launch::fingerprint(&spec);
            let mut state = launcher.lock();
            if state.resolving == Some(fingerprint) {
                state.resolving = None;
            }
            match result {
                Ok(_) if after.as_ref().ok() != Some(&fingerprint) => {
                    tracing::info!(event = "jobmanager_launch_stale", "the JobManager's inputs changed while its command line was resolved; the next start resolves again")
                }
                Ok(launch) => {
                    tracing::info!(
                        event = "jobmanager_launch_resolved",
                        took_ms = started.elapsed().as_millis() as u64,
                        java = launch.argv[0],
                        args = launch.argv.len() - 1,
                        "resolved the JobManager's JVM command line; it starts directly"
                    );
                    state.resolved = Some((fingerprint, launch));
                }
                Err(why) => {
                    drop(state);
                    launcher.log_once(&format!("cannot resolve the JobManager's command line ({why})"));
                }
            }
        });
    }

    /// Logs why the command runs as configured, once per reason.
    fn log_once(&self, why: &str) {
        if self.lock().logged.insert(why.to_string()) {
            tracing::warn!(
                event = "jobmanager_launch_as_configured",
                why,
                "jobmanager.launch = \"direct\": the JobManager starts through its command as configured"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Held only for memory updates; a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The environment the JobManager gets: the daemon's own, without systemd's variables, with
/// `jobmanager.env` (and what the spawn prepared) on top.
fn full_env(spec: &Spec) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !crate::outward::systemd::SYSTEMD_ENV.contains(&k.as_str()))
        .collect();
    env.extend(spec.settings.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Flink's `bin` directory when `spec` runs Flink's `jobmanager.sh start-foreground`, else why not.
fn flink_bin(spec: &Spec) -> Result<PathBuf, String> {
    let command = &spec.settings.command;
    if !crate::config::is_flink_start_command(command) {
        return Err("jobmanager.command is not Flink's `bin/jobmanager.sh start-foreground`".into());
    }
    let script = Path::new(&command[0]);
    let bin = script.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for name in ["config.sh", "flink-console.sh"] {
        if !bin.join(name).is_file() {
            return Err(format!("{} has no {name} beside it", script.display()));
        }
    }
    Ok(bin.to_path_buf())
}

/// The Flink configuration file the scripts read.
fn config_file(bin: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    let dir = env.get(FLINK_CONF_DIR_VAR).map(PathBuf::from).unwrap_or_else(|| bin.join("..").join("conf"));
    dir.join("config.yaml")
}

/// A key of all the inputs the resolved command line depends on; `Err` when `spec` cannot be
/// resolved at all (then the command runs as configured).
pub(crate) fn fingerprint(spec: &Spec) -> Result<u64, String> {
    let bin = flink_bin(spec)?;
    let mut env = full_env(spec);
    // Read by the gate inside the JVM only; the scripts' command line does not depend on it, and a
    // parked start (with it) and a cold start (without) share one resolution.
    env.remove(crate::process::cds::PRELOAD_VAR);
    let config = std::fs::read(config_file(&bin, &env)).unwrap_or_default();
    let text = String::from_utf8_lossy(&config);
    if text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("env.java.home") || (l.starts_with("home:") || l.starts_with("home :"))
    }) {
        return Err("the Flink configuration names its own java (env.java.home)".into());
    }
    let mut h = std::hash::DefaultHasher::new();
    spec.settings.command.hash(&mut h);
    env.hash(&mut h);
    spec.settings.workdir.hash(&mut h);
    config.hash(&mut h);
    nix::unistd::gethostname().ok().map(|n| n.to_string_lossy().into_owned()).hash(&mut h);
    let stamp = |path: &Path, h: &mut std::hash::DefaultHasher| {
        path.hash(h);
        if let Ok(m) = std::fs::metadata(path) {
            (m.len(), m.mtime(), m.mtime_nsec(), m.ino()).hash(h);
        }
    };
    for name in SCRIPTS {
        stamp(&bin.join(name), &mut h);
    }
    let lib = env.get("FLINK_LIB_DIR").map(PathBuf::from).unwrap_or_else(|| bin.join("..").join("lib"));
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib).into_iter().flatten().flatten().map(|e| e.path()).collect();
    jars.sort();
    for jar in &jars {
        stamp(jar, &mut h);
    }
    Ok(h.finish())
}

/// The real `java` the scripts would pick: `$JAVA_HOME/bin/java`, else `java` on `PATH`.
fn real_java(env: &BTreeMap<String, String>) -> Result<PathBuf, String> {
    if let Some(home) = env.get("JAVA_HOME").filter(|h| Path::new(h).is_dir()) {
        return Ok(Path::new(home).join("bin").join("java"));
    }
    let path = env.get("PATH").map(String::as_str).unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("java"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or_else(|| "no java: JAVA_HOME is not a directory and PATH has no java".to_string())
}

/// The stand-in `java`: passes the scripts' helper calls to `real`, records the final call.
fn stand_in_java(real: &Path) -> Result<String, String> {
    let real = real.to_str().filter(|r| !r.contains('\'')).ok_or("the path of java cannot be quoted")?;
    Ok(format!(
        r#"#!/bin/sh
# flink-ha-supervisor: stands in for java while it reads the JobManager's command line.
for arg in "$@"; do
  case "$arg" in
    org.apache.flink.runtime.util.bash.BashJavaUtils|-XshowSettings:*) exec '{real}' "$@" ;;
  esac
done
out="${OUT_VAR}"
fd1=$(readlink /proc/$$/fd/1)
fd2=$(readlink /proc/$$/fd/2)
printf '%s\0' "$@" > "$out.part" &&
  cat /proc/$$/environ > "$out.env" &&
  printf '%s\n%s\n' "$fd1" "$fd2" > "$out.fds" &&
  mv "$out.part" "$out.argv"
exit 0
"#
    ))
}

/// A directory of its own for one resolution, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs Flink's scripts for `spec` with the stand-in `java` and returns the command line they
/// would run. Takes a few seconds (the helper JVMs).
pub(crate) async fn resolve(spec: &Spec) -> Result<Launch, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let _ = fingerprint(spec)?;
    let env = full_env(spec);
    let java = real_java(&env)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("flink-ha-launch-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scratch = Scratch(dir.clone());
    let io = |what: &str, e: std::io::Error| format!("{what} in {}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| io("cannot create a directory", e))?;
    std::fs::create_dir_all(dir.join("pid")).map_err(|e| io("cannot create a directory", e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io("cannot restrict", e))?;
    let fake = dir.join("bin").join("java");
    std::fs::write(&fake, stand_in_java(&java)?).map_err(|e| io("cannot write", e))?;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o700)).map_err(|e| io("cannot chmod", e))?;
    let stderr_path = dir.join("stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| io("cannot create", e))?;

    let nonce = format!(
        "{:x}{n}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
    );
    let marker = format!("-Dflinkha.launch.resolve={nonce}");
    let dir_text = dir.display().to_string();
    let mut passed = env.clone();
    passed.insert("JAVA_HOME".into(), dir_text.clone());
    let path = env.get("PATH").cloned().unwrap_or_default();
    passed.insert("PATH".into(), format!("{dir_text}/bin:{path}"));
    passed.insert("FLINK_PID_DIR".into(), format!("{dir_text}/pid"));
    passed.insert(OUT_VAR.into(), format!("{dir_text}/out"));
    let jvm_args = env.get("JVM_ARGS").map(|a| a.trim().to_string()).unwrap_or_default();
    passed.insert("JVM_ARGS".into(), format!("{jvm_args} {marker} -version").trim_start().to_string());

    let mut cmd = tokio::process::Command::new(&spec.settings.command[0]);
    cmd.args(&spec.settings.command[1..])
        .env_clear()
        .envs(&passed)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .kill_on_drop(true);
    if let Some(workdir) = &spec.settings.workdir {
        cmd.current_dir(workdir);
    }
    // The resolution runs beside a JobManager that may be starting: it takes only idle CPU.
    // SAFETY: setpriority is a plain system call, safe between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, RESOLVE_NICE);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", spec.settings.command[0]))?;
    let pgid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
    let status = tokio::time::timeout(RESOLVE_TIMEOUT, child.wait()).await;
    // Nothing the scripts started may outlive the resolution.
    if let Some(group) = pgid {
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
    let last_line = || {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .chars()
            .take(300)
            .collect::<String>()
    };
    match status {
        Err(_) => return Err(format!("the scripts did not finish within {}s", RESOLVE_TIMEOUT.as_secs())),
        Ok(Err(e)) => return Err(format!("cannot wait for the scripts: {e}")),
        Ok(Ok(s)) if !s.success() => return Err(format!("the scripts failed ({s}): {}", last_line())),
        Ok(Ok(_)) => {}
    }
    let read = |name: &str| std::fs::read(dir.join(name));
    let argv =
        read("out.argv").map_err(|_| format!("the scripts did not run java for the JobManager: {}", last_line()))?;
    let recorded_env = read("out.env").map_err(|e| format!("no environment recorded: {e}"))?;
    let fds = String::from_utf8_lossy(&read("out.fds").unwrap_or_default()).into_owned();
    let expected_fds = format!("/dev/null\n{}\n", stderr_path.display());
    if fds != expected_fds {
        return Err("Flink's scripts redirect the JobManager's output (env.stdout-err.redirect-to-file); the direct launch would not".into());
    }
    let launch = from_recorded(&argv, &recorded_env, &passed, &java, &dir_text, &marker)?;
    drop(scratch);
    Ok(launch)
}

/// Splits a NUL-separated record into strings.
fn split_nul(bytes: &[u8]) -> Result<Vec<String>, String> {
    bytes
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8(part.to_vec()).map_err(|_| "a recorded argument is not UTF-8".to_string()))
        .collect()
}

/// The command line from what the stand-in `java` recorded: its arguments without the marker
/// and `-version`, the real `java` in front, and the variables the scripts set on top of those
/// they were given (`passed`).
fn from_recorded(
    argv: &[u8],
    env: &[u8],
    passed: &BTreeMap<String, String>,
    java: &Path,
    scratch: &str,
    marker: &str,
) -> Result<Launch, String> {
    let mut args = split_nul(argv)?;
    let at = args.iter().position(|a| a == marker).ok_or("the scripts did not pass JVM_ARGS on to java")?;
    if args.get(at + 1).map(String::as_str) != Some("-version") {
        return Err("the scripts changed JVM_ARGS on the way to java".into());
    }
    args.drain(at..at + 2);
    if args.iter().any(|a| a == marker) {
        return Err("the scripts passed JVM_ARGS to java more than once".into());
    }
    if !args.iter().any(|a| a == ENTRYPOINT_CLASS) {
        return Err(format!("the scripts' java call does not start {ENTRYPOINT_CLASS}"));
    }
    if let Some(a) = args.iter().find(|a| a.contains(scratch)) {
        return Err(format!("the command line depends on the resolution's own files ({a})"));
    }
    let mut extra = Vec::new();
    for entry in split_nul(env)? {
        let Some((key, value)) = entry.split_once('=') else { continue };
        if passed.get(key).map(String::as_str) == Some(value) || key == "_" {
            continue;
        }
        let value = match key {
            "JAVA_RUN" => java.display().to_string(),
            "JVM_ARGS" => {
                value.split_whitespace().filter(|w| *w != marker && *w != "-version").collect::<Vec<_>>().join(" ")
            }
            _ if value.contains(scratch) => return Err(format!("the scripts set {key} to the resolution's own files")),
            _ => value.to_string(),
        };
        extra.push((key.to_string(), value));
    }
    let mut full = vec![java.display().to_string()];
    full.extend(args);
    Ok(Launch { argv: full, env: extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str]) -> Spec {
        let mut settings = crate::config::test_support::settings("").jobmanager;
        settings.command = command.iter().map(|s| s.to_string()).collect();
        settings.env.clear();
        Spec { guard_exe: PathBuf::from("/bin/true"), settings }
    }

    #[test]
    fn a_command_that_is_not_flinks_script_runs_as_configured() {
        let launcher = Launcher::new(LAUNCH_DIRECT);
        let spec = spec(&["/usr/bin/env", "sleep", "1"]);
        assert!(fingerprint(&spec).unwrap_err().contains("not Flink's"));
        assert_eq!(launcher.choose(&spec), Launch { argv: spec.settings.command.clone(), env: Vec::new() });
        let script = Launcher::new(LAUNCH_SCRIPT);
        assert_eq!(script.choose(&spec).argv, spec.settings.command);
    }

    #[test]
    fn the_record_loses_the_marker_and_gains_the_real_java() {
        let marker = "-Dflinkha.launch.resolve=ab1";
        let argv = format!(
            "-Xmx1g\0{marker}\0-version\0-Xms1g\0-classpath\0/f/lib/a.jar\0{ENTRYPOINT_CLASS}\0--configDir\0/c\0"
        );
        let passed =
            BTreeMap::from([("JAVA_HOME".to_string(), "/tmp/s".to_string()), ("A".to_string(), "1".to_string())]);
        let env = format!("JAVA_HOME=/tmp/s\0A=1\0JAVA_RUN=/tmp/s/bin/java\0JVM_ARGS=-Xmx1g {marker} -version -Xms1g\0FLINK_PLUGINS_DIR=/f/plugins\0_=/tmp/s/bin/java\0");
        let launch =
            from_recorded(argv.as_bytes(), env.as_bytes(), &passed, Path::new("/jdk/bin/java"), "/tmp/s", marker)
                .unwrap();
        assert_eq!(launch.argv[0], "/jdk/bin/java");
        assert_eq!(launch.argv[1..4], ["-Xmx1g", "-Xms1g", "-classpath"]);
        assert!(!launch.argv.iter().any(|a| a == marker || a == "-version"));
        let env: BTreeMap<_, _> = launch.env.into_iter().collect();
        assert_eq!(env["JAVA_RUN"], "/jdk/bin/java");
        assert_eq!(env["JVM_ARGS"], "-Xmx1g -Xms1g");
        assert_eq!(env["FLINK_PLUGINS_DIR"], "/f/plugins");
        assert!(!env.contains_key("A") && !env.contains_key("JAVA_HOME") && !env.contains_key("_"));

        let no_marker = format!("-Xmx1g\0{ENTRYPOINT_CLASS}\0");
        assert!(from_recorded(no_marker.as_bytes(), b"", &passed, Path::new("/j"), "/tmp/s", marker).is_err());
        let other_class = format!("{marker}\0-version\0org.example.Main\0");
        assert!(from_recorded(other_class.as_bytes(), b"", &passed, Path::new("/j"), "/tmp/s", marker).is_err());
    }
}

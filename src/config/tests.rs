//! Loading the configuration end to end: files, the environment, defaults, and each refusal's
//! one line.

use std::io::Write;
use std::path::{Path, PathBuf};

use flink_ha_core::timing;
use flink_ha_core::walltime::format_duration;

use super::schema::{Kind, SCHEMA};
use super::validate::min_session_timeout;
use super::*;

/// Lines every test file gets unless the test sets the same key itself.
const BASE: &[&str] = &["zookeeper.quorum = \"zk1:2181\"", "jobmanager.command = [\"/bin/jm\", \"start-foreground\"]"];

/// A TOML text of dotted keys: BASE plus `lines`, a line of `lines` replacing the BASE line
/// of the same key.
fn toml(lines: &[&str]) -> String {
    let key = |line: &str| line.split('=').next().unwrap().trim().to_string();
    let mut text: Vec<&str> = BASE.iter().copied().filter(|b| !lines.iter().any(|l| key(l) == key(b))).collect();
    text.extend(lines);
    text.join("\n") + "\n"
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_text(text: &str, env: &[(&str, &str)]) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
    let file = write(text);
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Settings::load_with_env(file.path(), env)
}

fn load_env(lines: &[&str], env: &[(&str, &str)]) -> Settings {
    match load_text(&toml(lines), env) {
        Ok((settings, _)) => settings,
        Err(e) => panic!("expected {lines:?} with {env:?} to load, got: {e}"),
    }
}

fn load(lines: &[&str]) -> Settings {
    load_env(lines, &[])
}

fn warnings(lines: &[&str]) -> Vec<ConfigWarning> {
    match load_text(&toml(lines), &[]) {
        Ok((_, warnings)) => warnings,
        Err(e) => panic!("expected {lines:?} to load, got: {e}"),
    }
}

fn error_text(text: &str, env: &[(&str, &str)]) -> ConfigError {
    match load_text(text, env) {
        Ok((settings, _)) => panic!("expected an error for {text:?}, got {settings:?}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "not one line: {shown}");
            e
        }
    }
}

fn error_env(lines: &[&str], env: &[(&str, &str)]) -> ConfigError {
    error_text(&toml(lines), env)
}

fn error(lines: &[&str]) -> ConfigError {
    error_env(lines, &[])
}

/// Asserts the error is about `key` and its text contains every one of `words`.
fn assert_error(e: &ConfigError, key: &str, words: &[&str]) {
    let shown = e.to_string();
    assert_eq!(e.key(), key, "wrong key in: {shown}");
    assert!(shown.starts_with(key), "does not start with {key}: {shown}");
    for word in words {
        assert!(shown.contains(word), "{word:?} missing from: {shown}");
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn host() -> String {
    crate::host::lookup().unwrap()
}

// ----- defaults and the example file -----

#[test]
fn example_file_validates_with_the_documented_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/flink-ha-supervisor.toml");
    let (example, warnings) = Settings::load_with_env(&path, Vec::new()).unwrap();

    // Set explicitly, because they have no default.
    assert_eq!(example.zookeeper.quorum, "zk1.example.org:2181,zk2.example.org:2181,zk3.example.org:2181");
    assert_eq!(example.jobmanager.command, ["/opt/flink/bin/jobmanager.sh", "start-foreground"]);

    // Everything else equals what a file with only the required keys gets.
    let mut minimal = load(&[]);
    minimal.zookeeper.quorum = example.zookeeper.quorum.clone();
    minimal.jobmanager.command = example.jobmanager.command.clone();
    // The example enables [flink], whose storage dir has no default.
    assert!(example.flink.enabled && !minimal.flink.enabled);
    minimal.flink.enabled = true;
    minimal.flink.storage_dir = example.flink.storage_dir.clone();
    assert_eq!(example, minimal);

    // The defaults fit the budget even for a JobManager that uses its whole start timeout.
    // The one warning: no base Flink configuration, since FLINK_HOME is unset here.
    let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["flink.base_config"], "{warnings:?}");
}

#[test]
fn defaults_are_the_documented_ones() {
    let s = load(&[]);
    assert_eq!(s.node.id, host());
    assert_eq!(s.zookeeper.session_timeout, secs(10));
    assert_eq!(s.zookeeper.connect_timeout, secs(3));
    assert_eq!(s.election.path, "/flink/leader");
    assert!(s.jobmanager.env.is_empty());
    assert_eq!(s.jobmanager.workdir, None);
    assert_eq!(s.jobmanager.ready_url, "http://127.0.0.1:8081/overview");
    assert_eq!(s.jobmanager.rpc_address, format!("{}:6123", host()));
    assert_eq!(s.jobmanager.log_file, None);
    assert_eq!(s.jobmanager.start_timeout, secs(20));
    assert_eq!(s.jobmanager.stop_grace, secs(3));
    assert_eq!(s.jobmanager.health_interval, secs(2));
    assert_eq!(s.jobmanager.health_failures, 5);
    assert_eq!(s.jobmanager.launch, "direct");
    assert_eq!(s.jobmanager.restart_limit, 3);
    assert_eq!(s.jobmanager.restart_window, secs(300));
    assert_eq!(s.jobmanager.standby, "cold");
    assert_eq!(s.jobmanager.gate_jar, PathBuf::from("/usr/share/flink-ha-supervisor/flink-ha-gate.jar"));
    assert_eq!(s.failover.budget, secs(30));
}

#[test]
fn launch_is_direct_or_script() {
    assert_eq!(load(&["jobmanager.launch = \"script\""]).jobmanager.launch, "script");
    let e = error(&["jobmanager.launch = \"fast\""]);
    assert_error(
        &e,
        "jobmanager.launch",
        &["\"fast\" is not a launch mode; set it to exactly \"direct\" or \"script\""],
    );
    let e = error(&["jobmanager.launch = \"Direct\""]);
    assert_error(
        &e,
        "jobmanager.launch",
        &["\"Direct\" is not a launch mode; set it to exactly \"direct\" or \"script\" (lowercase)"],
    );
    let e = error(&["jobmanager.launch = true"]);
    assert_error(&e, "jobmanager.launch", &["string"]);
}

#[test]
fn every_key_can_be_set_in_the_file() {
    let text = r#"
[node]
id = "jm7"
[zookeeper]
quorum = "zk1:2181,[::1]:2182/apps/flink"
session_timeout = "6s"
connect_timeout = "2s"
tick_time = "1s"
[election]
path = "/apps/leader"
[jobmanager]
command = ["/opt/flink/bin/jobmanager.sh", "start-foreground"]
workdir = "/opt/flink"
ready_url = "http://jm7:8081/overview"
rpc_address = "jm7:6123"
log_file = "/var/log/jm.out"
start_timeout = "8s"
stop_grace = "2500ms"
health_interval = "1s"
health_failures = 5
restart_limit = 0
restart_window = "10m"
[jobmanager.env]
FLINK_CONF_DIR = "/etc/flink"
[failover]
budget = "20s"
"#;
    let (s, warnings) = load_text(text, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.node.id, "jm7");
    assert_eq!(s.zookeeper.quorum, "zk1:2181,[::1]:2182/apps/flink");
    assert_eq!(s.zookeeper.session_timeout, secs(6));
    assert_eq!(s.zookeeper.connect_timeout, secs(2));
    assert_eq!(s.zookeeper.tick_time, secs(1));
    assert_eq!(s.election.path, "/apps/leader");
    assert_eq!(s.jobmanager.workdir, Some(PathBuf::from("/opt/flink")));
    assert_eq!(s.jobmanager.ready_url, "http://jm7:8081/overview");
    assert_eq!(s.jobmanager.rpc_address, "jm7:6123");
    assert_eq!(s.jobmanager.log_file, Some(PathBuf::from("/var/log/jm.out")));
    assert_eq!(s.jobmanager.start_timeout, secs(8));
    assert_eq!(s.jobmanager.stop_grace, Duration::from_millis(2500));
    assert_eq!(s.jobmanager.health_interval, secs(1));
    assert_eq!(s.jobmanager.health_failures, 5);
    assert_eq!(s.jobmanager.restart_limit, 0);
    assert_eq!(s.jobmanager.restart_window, secs(600));
    assert_eq!(s.jobmanager.env["FLINK_CONF_DIR"], "/etc/flink");
    assert_eq!(s.failover.budget, secs(20));
}

#[test]
fn default_command_comes_from_flink_home() {
    let text = "zookeeper.quorum = \"zk1:2181\"\n";
    let (s, _) = load_text(text, &[("FLINK_HOME", "/opt/flink-2.3.0/")]).unwrap();
    assert_eq!(s.jobmanager.command, ["/opt/flink-2.3.0/bin/jobmanager.sh", "start-foreground"]);
    // An explicit command wins over FLINK_HOME.
    let s = load_env(&[], &[("FLINK_HOME", "/opt/flink")]);
    assert_eq!(s.jobmanager.command, ["/bin/jm", "start-foreground"]);
}

#[test]
fn missing_command_without_flink_home_names_both() {
    let text = "zookeeper.quorum = \"zk1:2181\"\n";
    let e = error_text(text, &[]);
    assert_error(&e, "jobmanager.command", &["FLINK_HOME", "FHS_JOBMANAGER__COMMAND"]);
    assert_eq!(e.kind(), ConfigErrorKind::Missing);
    // An empty FLINK_HOME is no FLINK_HOME.
    let e = error_text(text, &[("FLINK_HOME", "")]);
    assert_error(&e, "jobmanager.command", &["FLINK_HOME"]);
}

#[test]
fn missing_quorum_is_an_error() {
    let e = error_text("jobmanager.command = [\"/bin/jm\"]\n", &[]);
    assert_error(&e, "zookeeper.quorum", &["required", "host:port"]);
}

// ----- the file -----

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let e = Settings::load_with_env(&path, Vec::new()).unwrap_err();
    assert_error(&e, &path.display().to_string(), &["cannot read", "--config"]);
    assert_eq!(e.kind(), ConfigErrorKind::File);
}

#[test]
fn unreadable_file_names_the_path() {
    // A directory cannot be read as a file, whoever runs the test (root reads mode 000 files).
    let dir = tempfile::tempdir().unwrap();
    let e = Settings::load_with_env(dir.path(), Vec::new()).unwrap_err();
    assert_error(&e, &dir.path().display().to_string(), &["cannot read"]);
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let file = write("[zookeeper]\nquorum = zk1:2181\n");
    let e = Settings::load_with_env(file.path(), Vec::new()).unwrap_err();
    assert_error(&e, &file.path().display().to_string(), &["TOML syntax error at line 2", "fix the TOML syntax"]);
    assert_eq!(e.kind(), ConfigErrorKind::Syntax);
    assert!(!e.to_string().contains('\n'));
}

// ----- unknown keys and types -----

#[test]
fn misspelt_key_is_named_in_full() {
    let e = error(&["zookeeper.sesion_timeout = \"4s\""]);
    assert_error(
        &e,
        "zookeeper.sesion_timeout",
        &[
            "unknown key `zookeeper.sesion_timeout`",
            "did you mean `zookeeper.session_timeout`",
            "known keys in [zookeeper]: quorum, session_timeout, connect_timeout, tick_time",
        ],
    );
    assert_eq!(e.kind(), ConfigErrorKind::UnknownKey);
}

#[test]
fn unknown_section_is_named() {
    let e = error(&["zookeper.quorum = \"zk1:2181\""]);
    assert_error(&e, "zookeper", &["unknown key `zookeper`", "did you mean `zookeeper`?", "[zookeeper]"]);
    let e = error(&["kafka.brokers = \"k1:9092\""]);
    assert_error(&e, "kafka", &["unknown key `kafka`", "known sections"]);
    assert!(!e.to_string().contains("did you mean"), "{e}");
}

#[test]
fn unparsable_duration_names_key_value_and_example() {
    let e = error(&["zookeeper.session_timeout = \"4 seconds please\""]);
    assert_error(&e, "zookeeper.session_timeout", &["\"4 seconds please\"", "\"4s\""]);
    assert_eq!(e.kind(), ConfigErrorKind::WrongType);
    let e = error(&["jobmanager.stop_grace = \"3x\""]);
    assert_error(&e, "jobmanager.stop_grace", &["\"3x\"", "\"4s\""]);
}

#[test]
fn duration_without_unit_is_refused() {
    let e = error(&["failover.budget = 30"]);
    assert_error(&e, "failover.budget", &["no unit", "\"30s\""]);
}

#[test]
fn every_duration_has_an_upper_bound_named_in_one_line() {
    let durations: Vec<(String, Duration)> = SCHEMA
        .iter()
        .flat_map(|(section, keys)| {
            keys.iter().filter_map(move |(key, kind)| match kind {
                Kind::Duration(max) => Some((format!("{section}.{key}"), *max)),
                _ => None,
            })
        })
        .collect();
    assert_eq!(durations.len(), 14, "{durations:?}");
    for (key, max) in durations {
        // Past u64 nanoseconds: would overflow Instant once a JobManager starts.
        let e = error(&[&format!("{key} = \"584542046090years\"")]);
        assert_error(&e, &key, &["\"584542046090years\"", "at most", &format_duration(max)]);
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        // Just past the bound is refused as well; from the environment it names the variable.
        let var = env_var_name(&key);
        let e = error_env(&[], &[(&var, &format_duration(max + Duration::from_millis(1)))]);
        assert_error(&e, &key, &["at most"]);
        assert_eq!(e.env_var(), Some(var.as_str()));
    }
}

#[test]
fn wrong_types_name_the_key() {
    let e = error(&["jobmanager.health_failures = \"three\""]);
    assert_error(&e, "jobmanager.health_failures", &["whole number", "\"three\""]);
    // The config crate alone would round 2.5 to 3.
    let e = error(&["jobmanager.health_failures = 2.5"]);
    assert_error(&e, "jobmanager.health_failures", &["whole number", "2.5"]);
    let e = error(&["jobmanager.restart_limit = -1"]);
    assert_error(&e, "jobmanager.restart_limit", &["whole number"]);
    let e = error(&["zookeeper.quorum = 2181"]);
    assert_error(&e, "zookeeper.quorum", &["expected a string"]);
    let e = error(&["jobmanager.command = \"/bin/jm start-foreground\""]);
    assert_error(&e, "jobmanager.command", &["list of strings"]);
    let e = error(&["jobmanager.command = [\"/bin/jm\", 3]"]);
    assert_error(&e, "jobmanager.command", &["element 1"]);
    let e = error(&["jobmanager.env.FLINK_PARALLELISM = 4"]);
    assert_error(&e, "jobmanager.env.FLINK_PARALLELISM", &["expected a string"]);
    let e = error(&["election = \"/flink/leader\""]);
    assert_error(&e, "election", &["expected a table [election]"]);
}

// ----- values -----

#[test]
fn empty_quorum_is_refused() {
    let e = error(&["zookeeper.quorum = \"\""]);
    assert_error(&e, "zookeeper.quorum", &["must not be empty", "host:port"]);
    let e = error(&["zookeeper.quorum = \"  \""]);
    assert_error(&e, "zookeeper.quorum", &["must not be empty"]);
}

#[test]
fn malformed_quorum_entries_are_refused() {
    for (quorum, words) in [
        ("zk1", &["\"zk1\"", "no :port"][..]),
        ("zk1:abc", &["\"abc\"", "1 to 65535"]),
        ("zk1:0", &["\"0\"", "1 to 65535"]),
        ("zk1:65536", &["\"65536\""]),
        ("zk1:+2181", &["\"+2181\""]),
        (":2181", &["empty host"]),
        ("zk1:2181,", &["entry 2 is empty"]),
        ("zk1:2181,,zk2:2181", &["entry 2 is empty"]),
        ("zk1:2181, zk2:2181", &["whitespace"]),
        ("::1:2181", &["brackets"]),
        ("[::1:2181", &["']'"]),
    ] {
        let e = error(&[&format!("zookeeper.quorum = {quorum:?}")]);
        assert_error(&e, "zookeeper.quorum", words);
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    }
}

#[test]
fn chroot_must_be_absolute_and_not_slash_terminated() {
    let s = load(&["zookeeper.quorum = \"zk1:2181,zk2:2181,zk3:2181/apps/flink\""]);
    assert_eq!(s.zookeeper.quorum, "zk1:2181,zk2:2181,zk3:2181/apps/flink");
    for quorum in ["zk1:2181/apps/flink/", "zk1:2181/", "zk1:2181/apps//flink", "zk1:2181/apps/.."] {
        let e = error(&[&format!("zookeeper.quorum = {quorum:?}")]);
        assert_error(&e, "zookeeper.quorum", &["chroot"]);
    }
}

#[test]
fn election_path_must_be_absolute_and_not_end_in_slash() {
    for (path, word) in [
        ("flink/leader", "relative"),
        ("/flink/leader/", "end with '/'"),
        ("/", "root"),
        ("", "empty"),
        ("/flink//leader", "empty segment"),
        ("/flink/../leader", "\"..\""),
        ("/flink/\\u0001leader", "character"),
    ] {
        // TOML basic strings share Rust's escapes except \u, spelt out above.
        let e = error(&[&format!("election.path = \"{path}\"")]);
        assert_error(&e, "election.path", &[word, "/flink/leader"]);
    }
}

#[test]
fn empty_command_is_refused() {
    for command in ["[]", "[\"\"]", "[\" \", \"start-foreground\"]"] {
        let e = error(&[&format!("jobmanager.command = {command}")]);
        assert_error(&e, "jobmanager.command", &["must name a program", "start-foreground"]);
    }
}

#[test]
fn ready_url_must_be_plain_http_with_host_port_and_path() {
    for (url, word) in [
        ("127.0.0.1:8081/overview", "http://"),
        ("https://127.0.0.1:8081/overview", "https"),
        ("http://127.0.0.1/overview", "no :port"),
        ("http://127.0.0.1:8081", "no path"),
        ("http://:8081/overview", "empty host"),
        ("http://127.0.0.1:80x/overview", "\"80x\""),
        ("http://u@127.0.0.1:8081/overview", "user"),
    ] {
        let e = error(&[&format!("jobmanager.ready_url = {url:?}")]);
        assert_error(&e, "jobmanager.ready_url", &[word, "http://host:port/path"]);
    }
    let s = load(&["jobmanager.ready_url = \"http://[::1]:8081/overview?x=1\""]);
    assert_eq!(s.jobmanager.ready_url, "http://[::1]:8081/overview?x=1");
}

#[test]
fn rpc_address_must_be_host_port() {
    let e = error(&["jobmanager.rpc_address = \"jm1\""]);
    assert_error(&e, "jobmanager.rpc_address", &["no :port"]);
}

#[test]
fn empty_optional_paths_are_refused() {
    let e = error(&["jobmanager.log_file = \"\""]);
    assert_error(&e, "jobmanager.log_file", &["must not be empty"]);
    let e = error(&["jobmanager.workdir = \"\""]);
    assert_error(&e, "jobmanager.workdir", &["must not be empty"]);
}

#[test]
fn bad_jobmanager_env_names_are_refused() {
    let e = error(&["jobmanager.env.\"A=B\" = \"x\""]);
    assert_error(&e, "jobmanager.env.A=B", &["'='"]);
}

#[test]
fn zero_durations_are_refused_where_zero_makes_no_sense() {
    for key in [
        "zookeeper.session_timeout",
        "zookeeper.connect_timeout",
        "jobmanager.start_timeout",
        "jobmanager.health_interval",
        "jobmanager.restart_window",
        "failover.budget",
    ] {
        let e = error(&[&format!("{key} = \"0s\"")]);
        assert_error(&e, key, &["longer than zero"]);
    }
    // A stop grace of zero means SIGKILL at once: allowed.
    let s = load(&["jobmanager.stop_grace = \"0s\""]);
    assert_eq!(s.jobmanager.stop_grace, Duration::ZERO);
}

#[test]
fn zero_health_failures_is_refused() {
    let e = error(&["jobmanager.health_failures = 0"]);
    assert_error(&e, "jobmanager.health_failures", &["at least 1"]);
}

#[test]
fn bad_node_ids_are_refused() {
    let e = error(&["node.id = \"\""]);
    assert_error(&e, "node.id", &["must not be empty"]);
    for id in ["jm/1", "jm 1", "jm\t1"] {
        let e = error(&[&format!("node.id = {id:?}")]);
        assert_error(&e, "node.id", &["'/'", "whitespace"]);
    }
}

// ----- timings -----

#[test]
fn stop_grace_longer_than_the_session_allows_is_an_error() {
    // The limits come from flink_ha_core::timing, which owns the fencing rule.
    let tick = timing::DEFAULT_TICK_TIME;
    let longest = timing::max_stop_grace(secs(10), tick);
    let too_long = longest + Duration::from_millis(1);
    let min_session = min_session_timeout(too_long, tick).unwrap();
    let e = error(&[&format!("jobmanager.stop_grace = \"{}\"", format_duration(too_long))]);
    assert_error(
        &e,
        "jobmanager.stop_grace",
        &[
            &format!("at most {}", format_duration(longest)),
            "zookeeper.session_timeout",
            "zookeeper.tick_time = 2s",
            &format!("at least {}", format_duration(min_session)),
        ],
    );
    assert_eq!(e.kind(), ConfigErrorKind::Timing);
    // The longest allowed grace is allowed.
    let s = load(&[&format!("jobmanager.stop_grace = \"{}\"", format_duration(longest))]);
    assert_eq!(s.jobmanager.stop_grace, longest);
    // The minimum session timeout named in the message is enough.
    let s = load(&[
        &format!("jobmanager.stop_grace = \"{}\"", format_duration(too_long)),
        &format!("zookeeper.session_timeout = \"{}\"", format_duration(min_session)),
    ]);
    assert_eq!(s.zookeeper.session_timeout, min_session);
    assert!(timing::fence_after(min_session - Duration::from_millis(1), too_long, tick).is_none());
}

#[test]
fn default_stop_grace_is_too_long_for_a_4s_session() {
    // With the margin of ZooKeeper's default tickTime a 4s session leaves no room for the
    // default 3s grace.
    assert!(timing::fence_after(secs(4), secs(3), timing::DEFAULT_TICK_TIME).is_none());
    let e = error(&["zookeeper.session_timeout = \"4s\""]);
    assert_error(&e, "jobmanager.stop_grace", &["zookeeper.session_timeout = 4s"]);
}

#[test]
fn session_too_short_for_any_stop_grace_is_an_error() {
    let e = error(&[
        "zookeeper.session_timeout = \"1s\"",
        "zookeeper.connect_timeout = \"500ms\"",
        "jobmanager.stop_grace = \"0s\"",
    ]);
    assert_error(&e, "jobmanager.stop_grace", &["no time", "zookeeper.session_timeout to at least"]);
}

#[test]
fn tick_time_defaults_to_zookeepers_and_must_be_positive() {
    assert_eq!(load(&[]).zookeeper.tick_time, secs(2));
    let e = error(&["zookeeper.tick_time = \"0s\""]);
    assert_error(&e, "zookeeper.tick_time", &["longer than zero"]);
    let e = error(&["zookeeper.tick_time = \"2 ticks\""]);
    assert_error(&e, "zookeeper.tick_time", &["\"2 ticks\""]);
}

/// The lines of a 2 s session with `grace` against servers said to tick every `tick`.
fn two_second_session(tick: &str, grace: &str) -> Vec<String> {
    vec![
        "zookeeper.session_timeout = \"2s\"".into(),
        "zookeeper.connect_timeout = \"1s\"".into(),
        format!("zookeeper.tick_time = {tick:?}"),
        format!("jobmanager.stop_grace = {grace:?}"),
        "jobmanager.start_timeout = \"10s\"".into(),
    ]
}

#[test]
fn a_two_second_session_is_accepted_for_servers_with_a_short_tick() {
    let lines = |tick, grace| two_second_session(tick, grace);
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // tickTime 500 ms: margin 250 ms + 200 ms + 1 s, two heartbeats 400 ms: 150 ms of grace.
    let s = load(&as_strs(&lines("500ms", "150ms")));
    assert_eq!((s.zookeeper.session_timeout, s.zookeeper.tick_time), (secs(2), Duration::from_millis(500)));
    let w = warnings(&as_strs(&lines("500ms", "150ms")));
    assert!(w.is_empty(), "2 s is within the 1s..10s such servers grant: {w:?}");
    let e = error(&as_strs(&lines("500ms", "151ms")));
    assert_error(&e, "jobmanager.stop_grace", &["zookeeper.tick_time = 500ms", "at most 150ms"]);
    // tickTime 250 ms: 275 ms of grace.
    load(&as_strs(&lines("250ms", "275ms")));
    let e = error(&as_strs(&lines("250ms", "276ms")));
    assert_error(&e, "jobmanager.stop_grace", &["at most 275ms"]);
    // ZooKeeper's default tick leaves no grace at all, and the message says what to change.
    let e = error(&as_strs(&lines("2s", "0s")));
    assert_error(&e, "jobmanager.stop_grace", &["no time", "zookeeper.tick_time = 2s", "set zookeeper.tick_time"]);
}

#[test]
fn the_session_range_a_server_grants_follows_the_tick() {
    let mut lines = two_second_session("1500ms", "0s");
    lines[0] = "zookeeper.session_timeout = \"2900ms\"".into();
    let w = warnings(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].key, "zookeeper.session_timeout");
    assert!(w[0].message.contains("below the 3s") && w[0].message.contains("tickTime 1s 500ms"), "{}", w[0]);
}

#[test]
fn connect_timeout_not_below_session_timeout_is_an_error() {
    for connect in ["10s", "12s"] {
        let e = error(&[&format!("zookeeper.connect_timeout = {connect:?}")]);
        assert_error(&e, "zookeeper.connect_timeout", &["zookeeper.session_timeout", "not shorter"]);
    }
}

#[test]
fn session_timeout_not_below_budget_is_an_error() {
    let e = error(&["zookeeper.session_timeout = \"30s\"", "failover.budget = \"30s\""]);
    assert_error(&e, "failover.budget", &["zookeeper.session_timeout", "crashed leader", "never"]);
    assert_eq!(e.kind(), ConfigErrorKind::Timing);
}

#[test]
fn slow_start_that_could_overrun_the_budget_is_a_warning() {
    let w = warnings(&["jobmanager.start_timeout = \"21s\""]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].key, "jobmanager.start_timeout");
    assert!(w[0].message.contains("failover.budget"), "{}", w[0]);
    assert!(w[0].message.contains("at most 20s"), "{}", w[0]);
    assert!(w[0].to_string().starts_with("jobmanager.start_timeout: "));
    assert!(warnings(&["jobmanager.start_timeout = \"20s\""]).is_empty());
}

#[test]
fn session_timeout_a_default_server_would_clamp_is_a_warning() {
    let w = warnings(&[
        "zookeeper.session_timeout = \"3500ms\"",
        "zookeeper.connect_timeout = \"1s\"",
        "jobmanager.stop_grace = \"200ms\"",
        "jobmanager.start_timeout = \"10s\"",
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].key, "zookeeper.session_timeout");
    assert!(w[0].message.contains("raise"), "{}", w[0]);

    let w = warnings(&[
        "zookeeper.session_timeout = \"45s\"",
        "failover.budget = \"60s\"",
        "jobmanager.start_timeout = \"10s\"",
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].key, "zookeeper.session_timeout");
    assert!(w[0].message.contains("lower"), "{}", w[0]);
    assert!(w[0].message.contains("above the servers' maxSessionTimeout 40s (zookeeper.max_session_timeout unset: ZooKeeper's default of 20 × zookeeper.tick_time 2s)"), "{}", w[0]);

    // Servers with a raised cap, which the daemon is told: no warning.
    let raised =
        ["zookeeper.session_timeout = \"45s\"", "failover.budget = \"60s\"", "jobmanager.start_timeout = \"10s\""];
    let w = warnings(&[&raised[..], &["zookeeper.max_session_timeout = \"60s\""]].concat());
    assert!(w.is_empty(), "{w:?}");
    let w = warnings(&[&raised[..], &["zookeeper.max_session_timeout = \"44s\""]].concat());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].message.contains("above the servers' maxSessionTimeout 44s (zookeeper.max_session_timeout)"),
        "{}",
        w[0]
    );
    let e = error(&["zookeeper.max_session_timeout = \"0s\""]);
    assert_error(&e, "zookeeper.max_session_timeout", &["longer than zero", "20 × zookeeper.tick_time"]);

    for session in ["4s", "20s"] {
        let w = warnings(&[
            &format!("zookeeper.session_timeout = {session:?}"),
            "zookeeper.connect_timeout = \"1s\"",
            "jobmanager.stop_grace = \"500ms\"",
            "jobmanager.start_timeout = \"5s\"",
        ]);
        assert!(w.is_empty(), "{session}: {w:?}");
    }
}

// ----- the environment -----

#[test]
fn environment_overrides_the_file() {
    let s = load_env(
        &["zookeeper.session_timeout = \"8s\"", "node.id = \"jm1\"", "jobmanager.env.FLINK_CONF_DIR = \"/etc/flink\""],
        &[
            ("FHS_ZOOKEEPER__SESSION_TIMEOUT", "4s"),
            ("FHS_JOBMANAGER__STOP_GRACE", "1s"),
            ("FHS_ZOOKEEPER__TICK_TIME", "1s"),
            ("FHS_NODE__ID", "jm2"),
            ("FHS_ZOOKEEPER__QUORUM", "zk9:2181/x"),
            ("FHS_JOBMANAGER__HEALTH_FAILURES", "5"),
            ("FHS_JOBMANAGER__COMMAND", " /opt/f/bin/jobmanager.sh \t start-foreground "),
            ("FHS_JOBMANAGER__ENV__JAVA_HOME", "/usr/lib/jvm/java-17"),
            ("FHS_JOBMANAGER__LOG_FILE", "/var/log/jm.out"),
            ("PATH", "/usr/bin"),
        ],
    );
    assert_eq!(s.zookeeper.session_timeout, secs(4));
    assert_eq!(s.jobmanager.stop_grace, secs(1));
    assert_eq!(s.zookeeper.tick_time, secs(1));
    assert_eq!(s.node.id, "jm2");
    assert_eq!(s.zookeeper.quorum, "zk9:2181/x");
    assert_eq!(s.jobmanager.health_failures, 5);
    assert_eq!(s.jobmanager.command, ["/opt/f/bin/jobmanager.sh", "start-foreground"]);
    // The variable's name keeps its case, and the file's entries stay.
    let env: Vec<(&str, &str)> = s.jobmanager.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env, [("FLINK_CONF_DIR", "/etc/flink"), ("JAVA_HOME", "/usr/lib/jvm/java-17")]);
    assert_eq!(s.jobmanager.log_file, Some(PathBuf::from("/var/log/jm.out")));
}

#[test]
fn environment_alone_can_supply_required_keys() {
    let (s, _) = load_text("", &[("FHS_ZOOKEEPER__QUORUM", "zk1:2181"), ("FLINK_HOME", "/opt/flink")]).unwrap();
    assert_eq!(s.zookeeper.quorum, "zk1:2181");
    assert_eq!(s.jobmanager.command[0], "/opt/flink/bin/jobmanager.sh");
}

#[test]
fn environment_variable_names_are_case_insensitive() {
    let s = load_env(&[], &[("fhs_node__id", "jm3"), ("Fhs_Jobmanager__Restart_Limit", "1")]);
    assert_eq!(s.node.id, "jm3");
    assert_eq!(s.jobmanager.restart_limit, 1);
}

#[test]
fn empty_environment_variable_counts_as_unset() {
    let s = load_env(&["node.id = \"jm1\""], &[("FHS_NODE__ID", "")]);
    assert_eq!(s.node.id, "jm1");
}

#[test]
fn single_underscore_variable_is_an_unknown_key_with_a_hint() {
    let e = error_env(&[], &[("FHS_ZOOKEEPER_SESSION_TIMEOUT", "4s")]);
    assert_error(
        &e,
        "zookeeper_session_timeout",
        &[
            "set by FHS_ZOOKEEPER_SESSION_TIMEOUT",
            "unknown key",
            "did you mean `zookeeper.session_timeout`, set by FHS_ZOOKEEPER__SESSION_TIMEOUT?",
        ],
    );
    assert_eq!(e.env_var(), Some("FHS_ZOOKEEPER_SESSION_TIMEOUT"));
    let e = error_env(&[], &[("FHS_ZOOKEEPER__SESION_TIMEOUT", "4s")]);
    assert_error(&e, "zookeeper.sesion_timeout", &["FHS_ZOOKEEPER__SESION_TIMEOUT"]);
}

#[test]
fn jobmanager_env_variable_names_from_the_environment_are_checked() {
    let e = error_env(&[], &[("FHS_JOBMANAGER__ENV__A.B", "1")]);
    assert_error(&e, "jobmanager.env.A.B", &["(set by FHS_JOBMANAGER__ENV__A.B)", "[jobmanager.env]"]);
}

#[test]
fn errors_about_environment_values_name_the_variable() {
    let e = error_env(&[], &[("FHS_ZOOKEEPER__SESSION_TIMEOUT", "4")]);
    assert_error(&e, "zookeeper.session_timeout", &["(set by FHS_ZOOKEEPER__SESSION_TIMEOUT)", "\"4\"", "\"4s\""]);
    let e = error_env(&[], &[("FHS_JOBMANAGER__HEALTH_FAILURES", "yes")]);
    assert_error(&e, "jobmanager.health_failures", &["FHS_JOBMANAGER__HEALTH_FAILURES", "whole number"]);
    let e = error_env(&[], &[("FHS_ELECTION__PATH", "flink/leader")]);
    assert_error(&e, "election.path", &["(set by FHS_ELECTION__PATH)", "relative"]);
    let e = error_env(&[], &[("FHS_JOBMANAGER__COMMAND", "   ")]);
    assert_error(&e, "jobmanager.command", &["FHS_JOBMANAGER__COMMAND", "must name a program"]);
    let e = error_env(&[], &[("FHS_ZOOKEEPER__SESSION_TIMEOUT", "30s")]);
    assert_error(&e, "failover.budget", &["zookeeper.session_timeout"]);
}

#[test]
fn environment_override_can_fix_a_bad_file_value() {
    let s = load_env(&["jobmanager.stop_grace = \"9s\""], &[("FHS_JOBMANAGER__STOP_GRACE", "2s")]);
    assert_eq!(s.jobmanager.stop_grace, secs(2));
}

// ----- serialization -----

#[test]
fn settings_serialize_durations_as_humantime_and_round_trip() {
    let s = load(&["jobmanager.stop_grace = \"2500ms\""]);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["zookeeper"]["session_timeout"], "10s");
    assert_eq!(json["jobmanager"]["stop_grace"], "2s 500ms");
    assert_eq!(json["jobmanager"]["restart_window"], "5m");
    assert!(json["jobmanager"].get("log_file").is_none());
    let back: Settings = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn env_var_names_follow_the_documented_form() {
    assert_eq!(env_var_name("zookeeper.session_timeout"), "FHS_ZOOKEEPER__SESSION_TIMEOUT");
    assert_eq!(known_keys().len(), 56);
}

#[test]
fn hooks_are_optional_argv_lists_with_a_timeout() {
    let h = load(&[]).hooks;
    assert_eq!((h.on_leader, h.on_standby, h.timeout), (None, None, secs(10)));
    let h = load(&[
        "hooks.on_leader = [\"/usr/local/bin/vip\", \"up\"]",
        "hooks.on_standby = [\"/usr/local/bin/vip\", \"down\"]",
        "hooks.timeout = \"3s\"",
    ])
    .hooks;
    assert_eq!(h.on_leader, Some(vec!["/usr/local/bin/vip".to_string(), "up".to_string()]));
    assert_eq!(h.on_standby, Some(vec!["/usr/local/bin/vip".to_string(), "down".to_string()]));
    assert_eq!(h.timeout, secs(3));
    // From the environment, split on whitespace like jobmanager.command.
    let h = load_env(&[], &[("FHS_HOOKS__ON_LEADER", " /bin/page  oncall "), ("FHS_HOOKS__TIMEOUT", "1s")]).hooks;
    assert_eq!(h.on_leader, Some(vec!["/bin/page".to_string(), "oncall".to_string()]));
    assert_eq!(h.timeout, secs(1));
}

#[test]
fn bad_hooks_are_refused_naming_the_key() {
    for hook in ["[]", "[\"\"]"] {
        let e = error(&[&format!("hooks.on_standby = {hook}")]);
        assert_error(&e, "hooks.on_standby", &["must name a program", "remove the key"]);
    }
    let e = error(&["hooks.on_leader = \"/bin/vip up\""]);
    assert_error(&e, "hooks.on_leader", &["list of strings"]);
    let e = error(&["hooks.timeout = \"0s\""]);
    assert_error(&e, "hooks.timeout", &["longer than zero"]);
    let e = error(&["hooks.timeout = 5"]);
    assert_error(&e, "hooks.timeout", &["no unit"]);
    let e = error(&["hooks.on_leder = [\"x\"]"]);
    assert_error(&e, "hooks.on_leder", &["did you mean `hooks.on_leader`"]);
}

#[test]
fn http_listen_defaults_to_loopback_and_can_be_turned_off() {
    let on = load(&[]).http;
    assert_eq!(on.listen, DEFAULT_HTTP_LISTEN);
    assert_eq!(on.listen_addr(), Ok(Some("127.0.0.1:9249".parse().unwrap())));
    for off in ["", "off"] {
        assert_eq!(load(&[&format!("http.listen = {off:?}")]).http.listen_addr(), Ok(None));
    }
    // An empty variable counts as unset, so the environment turns it off with "off".
    assert_eq!(load_env(&[], &[("FHS_HTTP__LISTEN", "off")]).http.listen_addr(), Ok(None));
    let s = load_env(&[], &[("FHS_HTTP__LISTEN", "[::]:9250")]);
    assert_eq!(s.http.listen_addr(), Ok(Some("[::]:9250".parse().unwrap())));
}

#[test]
fn an_unparsable_http_listen_is_refused() {
    for (listen, word) in [
        ("localhost:9249", "host name"),
        ("127.0.0.1", "ip:port"),
        ("127.0.0.1:0", "port 0"),
        ("127.0.0.1:99999", "ip:port"),
        (" 127.0.0.1:9249", "ip:port"),
    ] {
        let e = error(&[&format!("http.listen = {listen:?}")]);
        assert_error(&e, "http.listen", &[word, "127.0.0.1:9249", "turn the endpoint off"]);
    }
    let e = error(&["http.listen = 9249"]);
    assert_error(&e, "http.listen", &["string"]);
}

#[test]
fn the_audit_file_is_optional_and_settable_from_the_environment() {
    assert_eq!(load(&[]).log.audit_file, None);
    let s = load(&["log.audit_file = \"/var/log/fhs/audit.jsonl\""]);
    assert_eq!(s.log.audit_file, Some(PathBuf::from("/var/log/fhs/audit.jsonl")));
    let s = load_env(&[], &[("FHS_LOG__AUDIT_FILE", "/tmp/a.jsonl")]);
    assert_eq!(s.log.audit_file, Some(PathBuf::from("/tmp/a.jsonl")));
    let e = error(&["log.audit_file = \"\""]);
    assert_error(&e, "log.audit_file", &["must not be empty"]);
}

#[test]
fn the_standby_mode_is_cold_by_default_and_parked_needs_flinks_zookeeper_ha() {
    assert_eq!(load(&[]).jobmanager.standby, "cold");
    assert_eq!(load(&[]).jobmanager.park_timeout, secs(60));
    assert_eq!(load(&["jobmanager.park_timeout = \"2m\""]).jobmanager.park_timeout, secs(120));
    let e = error(&["jobmanager.park_timeout = \"0s\""]);
    assert_error(&e, "jobmanager.park_timeout", &["longer than zero", "\"60s\""]);
    let e = error(&["jobmanager.standby = \"hot\""]);
    assert_error(
        &e,
        "jobmanager.standby",
        &["\"hot\" is not a standby mode; set it to exactly \"cold\" or \"parked\""],
    );
    let e = error(&["jobmanager.standby = \"Parked\""]);
    assert_error(
        &e,
        "jobmanager.standby",
        &["\"Parked\" is not a standby mode; set it to exactly \"cold\" or \"parked\" (lowercase)"],
    );
    let e = error(&["jobmanager.standby = \"parked\""]);
    assert_error(&e, "jobmanager.standby", &["flink.enabled = true", "flink.mode = \"zookeeper\""]);
    let flink =
        ["flink.enabled = true", "flink.storage_dir = \"file:///ha\"", "flink.conf_dir = \"/tmp/fhs-parked-conf\""];
    let mut lines = flink.to_vec();
    lines.push("jobmanager.standby = \"parked\"");
    // Only Flink's own start script surely waits at the gate of the rendered configuration.
    assert_error(&error(&lines), "jobmanager.command", &["bin/jobmanager.sh start-foreground", "\"cold\""]);
    lines.push("jobmanager.command = [\"/opt/flink/bin/jobmanager.sh\", \"start-foreground\"]");
    lines.push("jobmanager.gate_jar = \"/opt/gate.jar\"");
    let s = load(&lines);
    assert_eq!(s.jobmanager.standby_mode(), Some(flink_ha_core::machine::Standby::Parked));
    assert_eq!(s.jobmanager.gate_jar, PathBuf::from("/opt/gate.jar"));
    let mut overriding = lines.clone();
    overriding.pop();
    overriding.pop();
    overriding.push(
        "jobmanager.command = [\"/opt/flink/bin/jobmanager.sh\", \"start-foreground\", \"-D\", \"high-availability.type=zookeeper\"]",
    );
    assert_error(&error(&overriding), "jobmanager.command", &["without high-availability.* arguments"]);
    lines.push("flink.mode = \"none\"");
    assert_error(&error(&lines), "jobmanager.standby", &["\"parked\" needs"]);
    assert_error(&error(&["jobmanager.gate_jar = \"\""]), "jobmanager.gate_jar", &["must not be empty"]);
}

// ----- ZooKeeper authentication and TLS -----

/// A file holding `text` with permission bits `mode`.
fn file_with_mode(text: &str, mode: u32) -> tempfile::NamedTempFile {
    use std::os::unix::fs::PermissionsExt as _;
    let file = write(text);
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

const OWN_PATH: &str = "election.path = \"/flink-ha/leader\"";

#[test]
fn auth_is_off_by_default_and_reads_the_password_at_load() {
    let s = load(&[]);
    assert_eq!((s.zookeeper.auth.as_str(), s.zookeeper.auth_on(), s.zookeeper.world_readable), ("none", false, false));
    assert_eq!(s.zookeeper.credentials, Credentials::default());

    let secret = file_with_mode("s3cret-pw\n", 0o600);
    let file_line = format!("zookeeper.password_file = {:?}", secret.path().display().to_string());
    let s = load(&["zookeeper.auth = \"digest\"", "zookeeper.user = \"flinkha\"", &file_line, OWN_PATH]);
    assert!(s.zookeeper.auth_on());
    assert_eq!(s.zookeeper.credentials.password.as_ref().map(Secret::expose), Some("s3cret-pw"));
    // Neither Debug nor the serialized settings show it.
    assert!(!format!("{s:?}").contains("s3cret-pw"));
    assert!(!serde_json::to_string(&s).unwrap().contains("s3cret-pw"));

    let s = load_env(
        &["zookeeper.auth = \"sasl\"", "zookeeper.user = \"flinkha\"", "zookeeper.password_env = \"ZK_PW\"", OWN_PATH],
        &[("ZK_PW", "from-env")],
    );
    assert_eq!(s.zookeeper.credentials.password.as_ref().map(Secret::expose), Some("from-env"));
}

#[test]
fn loading_without_the_daemons_secrets_reads_none_of_them() {
    let lines = [
        "zookeeper.auth = \"sasl\"",
        "zookeeper.user = \"flinkha\"",
        "zookeeper.password_file = \"/nonexistent/zookeeper-password\"",
        "zookeeper.tls_ca_file = \"/nonexistent/ca.pem\"",
        OWN_PATH,
    ];
    let file = write(&toml(&lines));
    let e = Settings::load_with_env(file.path(), Vec::new()).unwrap_err();
    assert_error(&e, "zookeeper.password_file", &["/nonexistent/zookeeper-password", "cannot be read"]);
    let (s, _) = Settings::load_with_env_as(file.path(), Vec::new(), DaemonSecrets::Skip).unwrap();
    assert!(s.zookeeper.auth_on());
    assert_eq!(s.zookeeper.credentials, Credentials::default());
    // The same with password_env: its variable is not looked at either.
    let lines =
        ["zookeeper.auth = \"digest\"", "zookeeper.user = \"u\"", "zookeeper.password_env = \"NOPE\"", OWN_PATH];
    let file = write(&toml(&lines));
    assert_eq!(Settings::load_with_env(file.path(), Vec::new()).unwrap_err().key(), "zookeeper.password_env");
    let (s, _) = Settings::load_with_env_as(file.path(), Vec::new(), DaemonSecrets::Skip).unwrap();
    assert_eq!(s.zookeeper.credentials.password, None);
    // What the settings themselves say is still validated.
    let lines = ["zookeeper.auth = \"digest\"", "zookeeper.user = \"u\"", OWN_PATH];
    let file = write(&toml(&lines));
    let e = Settings::load_with_env_as(file.path(), Vec::new(), DaemonSecrets::Skip).unwrap_err();
    assert_error(&e, "zookeeper.password_file", &["required"]);
}

#[test]
fn bad_auth_settings_are_refused_in_one_line() {
    let e = error(&["zookeeper.auth = \"gssapi\""]);
    assert_error(&e, "zookeeper.auth", &["\"none\"", "\"digest\"", "\"sasl\"", "\"kerberos\""]);
    let e = error(&["zookeeper.auth = \"digest\"", OWN_PATH]);
    assert_error(&e, "zookeeper.user", &["required"]);
    let e = error(&["zookeeper.auth = \"digest\"", "zookeeper.user = \"a:b\"", OWN_PATH]);
    assert_error(&e, "zookeeper.user", &["':'"]);
    let e = error(&["zookeeper.auth = \"digest\"", "zookeeper.user = \"flinkha\"", OWN_PATH]);
    assert_error(&e, "zookeeper.password_file", &["required", "chmod 600"]);
    let both = ["zookeeper.password_file = \"/x\"", "zookeeper.password_env = \"X\""];
    let e = error(&["zookeeper.auth = \"digest\"", "zookeeper.user = \"u\"", both[0], both[1], OWN_PATH]);
    assert_error(&e, "zookeeper.password_env", &["only one"]);
    let e = error(&["zookeeper.user = \"flinkha\""]);
    assert_error(&e, "zookeeper.user", &["zookeeper.auth = \"none\""]);
    let e = error(&[
        "zookeeper.auth = \"digest\"",
        "zookeeper.user = \"u\"",
        "zookeeper.password_env = \"NOPE\"",
        OWN_PATH,
    ]);
    assert_error(&e, "zookeeper.password_env", &["NOPE", "not set"]);
    let e = error(&["zookeeper.tls_cert_file = \"/c.pem\""]);
    assert_error(&e, "zookeeper.tls_cert_file", &["zookeeper.tls_ca_file"]);
    let e = error(&["zookeeper.tls_ca_file = \"/nonexistent/ca.pem\""]);
    assert_error(&e, "zookeeper.tls_ca_file", &["/nonexistent/ca.pem", "cannot be read"]);
}

/// A keytab (MIT format 0x0502) whose one entry is `principal` (`primary[/instance]@REALM`).
fn keytab_bytes(principal: &str) -> Vec<u8> {
    let (name, realm) = principal.split_once('@').unwrap();
    let names: Vec<&str> = name.split('/').collect();
    let mut entry = (names.len() as u16).to_be_bytes().to_vec();
    for part in std::iter::once(realm).chain(names) {
        entry.extend((part.len() as u16).to_be_bytes());
        entry.extend(part.as_bytes());
    }
    entry.extend([0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 17, 0, 1, 0x5a]);
    let mut bytes = vec![5, 2];
    bytes.extend((entry.len() as i32).to_be_bytes());
    bytes.extend(entry);
    bytes
}

#[test]
fn kerberos_needs_the_feature_a_principal_and_its_protected_keytab() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let keytab = dir.path().join("fhs.keytab");
    std::fs::write(&keytab, keytab_bytes("flinkha/host.example@EXAMPLE.TEST")).unwrap();
    std::fs::set_permissions(&keytab, std::fs::Permissions::from_mode(0o600)).unwrap();
    let keytab_line = format!("zookeeper.keytab = {:?}", keytab.display().to_string());
    let principal = "zookeeper.principal = \"flinkha/host.example@EXAMPLE.TEST\"";
    let auth = "zookeeper.auth = \"kerberos\"";
    if !cfg!(feature = "kerberos") {
        let e = error(&[auth, principal, &keytab_line, OWN_PATH]);
        assert_error(&e, "zookeeper.auth", &["--features kerberos"]);
        return;
    }
    let s = load(&[auth, principal, &keytab_line, OWN_PATH]);
    assert!(s.zookeeper.auth_on());
    assert_eq!(s.zookeeper.identity_name(), Some("flinkha"));
    let e = error(&[auth, &keytab_line, OWN_PATH]);
    assert_error(&e, "zookeeper.principal", &["required"]);
    let e = error(&[auth, "zookeeper.principal = \"flinkha\"", &keytab_line, OWN_PATH]);
    assert_error(&e, "zookeeper.principal", &["primary[/instance]@REALM"]);
    let e = error(&[auth, principal, OWN_PATH]);
    assert_error(&e, "zookeeper.keytab", &["required", "chmod 600"]);
    let e = error(&[auth, principal, &keytab_line, "zookeeper.user = \"u\"", OWN_PATH]);
    assert_error(&e, "zookeeper.user", &["zookeeper.principal"]);
    let e = error(&[auth, "zookeeper.principal = \"other@EXAMPLE.TEST\"", &keytab_line, OWN_PATH]);
    assert_error(&e, "zookeeper.keytab", &["flinkha/host.example@EXAMPLE.TEST", "other@EXAMPLE.TEST", "first"]);
    std::fs::set_permissions(&keytab, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = error(&[auth, principal, &keytab_line, OWN_PATH]);
    assert_error(&e, "zookeeper.keytab", &["readable by others", "chmod 600"]);
    let password = file_with_mode("pw\n", 0o600);
    let e =
        error(&[auth, principal, &format!("zookeeper.keytab = {:?}", password.path().display().to_string()), OWN_PATH]);
    assert_error(&e, "zookeeper.keytab", &["not a keytab"]);
    let e = error(&["zookeeper.auth = \"sasl\"", principal, OWN_PATH]);
    assert_error(&e, "zookeeper.principal", &["\"kerberos\""]);
    std::fs::set_permissions(&keytab, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Flink on the same ensemble logs in with Kerberos too: the servers refuse DIGEST-MD5.
    let flink = ["flink.enabled = true", "flink.storage_dir = \"file:///ha\""];
    let found = warnings(&[auth, principal, &keytab_line, OWN_PATH, flink[0], flink[1]]);
    let jaas = found.iter().find(|w| w.key == "flink.zookeeper_jaas_file").expect("a warning on Flink's login");
    assert!(jaas.message.contains("security.kerberos.login"), "{}", jaas.message);
    let jaas = file_with_mode(
        "Client {\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"pw\";\n};\n",
        0o600,
    );
    let jaas_line = format!("flink.zookeeper_jaas_file = {:?}", jaas.path().display().to_string());
    let e = error(&[auth, principal, &keytab_line, OWN_PATH, flink[0], flink[1], &jaas_line]);
    assert_error(&e, "flink.zookeeper_jaas_file", &["DIGEST-MD5", "AuthFailed", "security.kerberos.login"]);
}

#[test]
fn a_password_file_others_may_read_is_refused_like_ssh_does() {
    let open = file_with_mode("s3cret-pw\n", 0o644);
    let shown = open.path().display().to_string();
    let e = error(&[
        "zookeeper.auth = \"digest\"",
        "zookeeper.user = \"u\"",
        &format!("zookeeper.password_file = {shown:?}"),
        OWN_PATH,
    ]);
    assert_error(&e, "zookeeper.password_file", &["readable by others", "mode 0644", &format!("chmod 600 {shown}")]);
    assert!(!e.to_string().contains("s3cret-pw"));
    let empty = file_with_mode("\n", 0o600);
    let e = error(&[
        "zookeeper.auth = \"digest\"",
        "zookeeper.user = \"u\"",
        &format!("zookeeper.password_file = {:?}", empty.path().display().to_string()),
        OWN_PATH,
    ]);
    assert_error(&e, "zookeeper.password_file", &["empty"]);
}

#[test]
fn with_auth_the_election_paths_parent_is_the_daemons_own() {
    let pw = file_with_mode("pw", 0o600);
    let pw_line = format!("zookeeper.password_file = {:?}", pw.path().display().to_string());
    let auth = ["zookeeper.auth = \"digest\"", "zookeeper.user = \"u\"", pw_line.as_str()];
    let e = error(&[auth[0], auth[1], auth[2], "election.path = \"/leader\""]);
    assert_error(&e, "election.path", &["\"/\"", "/flink-ha/leader"]);
    // The default path's parent, /flink, is Flink's default root. Flink on the daemons' ensemble
    // needs an identity of its own when the daemons have one.
    let jaas = file_with_mode(
        "Client {\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"pw\";\n};\n",
        0o600,
    );
    let jaas_line = format!("flink.zookeeper_jaas_file = {:?}", jaas.path().display().to_string());
    let flink = ["flink.enabled = true", "flink.storage_dir = \"file:///ha\"", jaas_line.as_str()];
    let e = error(&[auth[0], auth[1], auth[2], flink[0], flink[1], flink[2]]);
    assert_error(&e, "election.path", &["\"/flink\"", "flink.zookeeper_path_root", "/flink-ha/leader"]);
    // Around Flink's root, or inside it.
    let e = error(&[
        auth[0],
        auth[1],
        auth[2],
        flink[0],
        flink[1],
        flink[2],
        "election.path = \"/a/leader\"",
        "flink.zookeeper_path_root = \"/a/flink\"",
    ]);
    assert_error(&e, "election.path", &["/flink-ha/leader"]);
    let e = error(&[auth[0], auth[1], auth[2], flink[0], flink[1], flink[2], "election.path = \"/flink/ha/leader\""]);
    assert_error(&e, "election.path", &["/flink-ha/leader"]);
    // Apart from it, fine; and without Flink only "/" is refused.
    load(&[auth[0], auth[1], auth[2], flink[0], flink[1], flink[2], OWN_PATH]);
    load(&[auth[0], auth[1], auth[2]]);
}

//! The `check-config` and `render-flink-config` commands, and what `run` refuses about `[flink]`,
//! through the real binary: exit codes, one-line errors, the example configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/flink-ha-supervisor.toml")
}

/// The binary with `args`, without the test's own `FHS_` variables or `FLINK_HOME`.
fn fhs(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
    cmd.args(args).env_remove("FLINK_HOME");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().to_ascii_uppercase().starts_with("FHS_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run flink-ha-supervisor")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

const DAEMON: &str = "[zookeeper]\nquorum = \"zk1:2181\"\n[jobmanager]\ncommand = [\"/bin/true\"]\nrpc_address = \"127.0.0.1:6123\"\n[http]\nlisten = \"off\"\n";

/// A JobManager command that exists on every test host, for the example configuration.
const JM: &[(&str, &str)] = &[("FHS_JOBMANAGER__COMMAND", "/bin/true start-foreground")];

#[test]
fn check_config_accepts_the_example_and_prints_reloadable_effective_settings() {
    // The example's /opt/flink does not exist here; run and check-config refuse a missing program.
    let out = fhs(&["check-config", "--config", example().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "flink-ha-supervisor: jobmanager.command: the program /opt/flink/bin/jobmanager.sh does not exist; "
        ),
        "{}",
        stderr(&out)
    );
    let out = fhs(&["check-config", "--config", example().to_str().unwrap()], JM);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "flink.enabled = true\n",
        "flink.mode = \"zookeeper\"\n",
        "flink.zookeeper_quorum = \"zk1.example.org:2181,zk2.example.org:2181,zk3.example.org:2181\"\n",
        "flink.zookeeper_session_timeout = \"30s\"\n",
        "flink.failover_timeout = \"30s\"\n",
        "flink.storage_dir = \"hdfs:///flink/ha\"\n",
        "zookeeper.session_timeout = \"10s\"\n",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    // Warnings go to stderr, one line each.
    assert!(stderr(&out).lines().all(|l| l.starts_with("flink-ha-supervisor: warning: ")), "{}", stderr(&out));
    // The output is itself a configuration that loads to the same effective settings.
    let dir = tempfile::tempdir().unwrap();
    let again = write(dir.path(), "effective.toml", &text);
    let out2 = fhs(&["check-config", "--config", again.to_str().unwrap()], JM);
    assert!(out2.status.success(), "{}", stderr(&out2));
    let body = |t: &str| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(body(&stdout(&out2)), body(&text));
}

#[test]
fn render_flink_config_prints_the_example_s_flink_configuration() {
    let flink_home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(flink_home.path().join("conf")).unwrap();
    write(&flink_home.path().join("conf"), "config.yaml", "rest:\n  port: 8081\nparallelism.default: 4\n");
    let home = flink_home.path().to_str().unwrap();
    let out = fhs(&["render-flink-config", "--config", example().to_str().unwrap()], &[("FLINK_HOME", home)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "parallelism.default: 4\n",
        "high-availability.type: zookeeper\n",
        "high-availability.storageDir: hdfs:///flink/ha\n",
        "high-availability.zookeeper.quorum: zk1.example.org:2181,zk2.example.org:2181,zk3.example.org:2181\n",
        "high-availability.zookeeper.path.root: /flink\n",
        "high-availability.cluster-id: /default\n",
        "high-availability.zookeeper.client.session-timeout: 30000 ms\n",
        "high-availability.zookeeper.client.connection-timeout: 3000 ms\n",
        "high-availability.zookeeper.client.tolerate-suspended-connections: true\n",
        "rest.port: 8081\n",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    assert!(text.contains("(replacing the base's rest.port)"), "{text}");
}

#[test]
fn invalid_flink_settings_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        &format!("{DAEMON}[flink]\nenabled = true\nstorage_dir = \"/ha\"\njobmanager_count = 1\n"),
    );
    for command in ["check-config", "render-flink-config", "run"] {
        let out = fhs(&[command, "--config", config.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{command}: {err}");
        assert!(err.starts_with("flink-ha-supervisor: flink.jobmanager_count: 1 is fewer than 2"), "{command}: {err}");
    }
}

#[test]
fn run_refuses_kubernetes_mode_but_it_renders() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "k8s.toml",
        &format!(
            "{DAEMON}[flink]\nenabled = true\nmode = \"kubernetes\"\nstorage_dir = \"s3://b/ha\"\nkubernetes_namespace = \"flink\"\nkubernetes_cluster_id = \"c1\"\n"
        ),
    );
    let out = fhs(&["run", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("flink.mode = \"kubernetes\"") && err.contains("not needed"), "{err}");
    let out = fhs(&["render-flink-config", "--config", config.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kubernetes.cluster-id: c1\n"), "{}", stdout(&out));
    let out = fhs(&["check-config", "--config", config.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("# run refuses this configuration"), "{}", stdout(&out));
}

#[test]
fn render_flink_config_without_flink_says_there_is_nothing_to_render() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "plain.toml", DAEMON);
    let out = fhs(&["render-flink-config", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("flink.enabled is false"), "{}", stderr(&out));
    let out = fhs(&["check-config", "--config", config.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("flink.enabled = false\n"));
}

#[test]
fn run_stops_at_once_on_a_broken_base_config() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "config.yaml", "rest: [unclosed\n");
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "{DAEMON}[flink]\nenabled = true\nstorage_dir = \"file:///ha\"\nbase_config = {:?}\nconf_dir = {:?}\n",
            base.to_str().unwrap(),
            dir.path().join("rendered").to_str().unwrap()
        ),
    );
    for command in ["run", "check-config", "render-flink-config"] {
        let out = fhs(&[command, "--config", config.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{command}: {err}");
        assert!(err.contains("flink.base_config: ") && err.contains("not valid YAML"), "{command}: {err}");
    }
    assert!(!dir.path().join("rendered/config.yaml").exists());
}

#[test]
fn a_taskmanager_renders_its_configuration_without_the_daemons_password() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let jaas = write(
        dir.path(),
        "flink-jaas.conf",
        "Client {\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"flink-pw-7f3a\";\n};\n",
    );
    std::fs::set_permissions(&jaas, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The daemons' password file is not on this host.
    let password = dir.path().join("zookeeper-password");
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[zookeeper]\nquorum = \"zk1:2181\"\nauth = \"sasl\"\nuser = \"flinkha\"\npassword_file = {:?}\n\
             [election]\npath = \"/flink-ha/leader\"\n\
             [jobmanager]\ncommand = [\"/bin/true\"]\nrpc_address = \"127.0.0.1:6123\"\n[http]\nlisten = \"off\"\n\
             [flink]\nenabled = true\nstorage_dir = \"file:///ha\"\nzookeeper_jaas_file = {:?}\n",
            password.to_str().unwrap(),
            jaas.to_str().unwrap()
        ),
    );
    let config = config.to_str().unwrap();
    let out = fhs(&["render-flink-config", "--config", config, "--for", "taskmanager"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "high-availability.zookeeper.client.acl: creator\n",
        "zookeeper.sasl.disable: false\n",
        "zookeeper.sasl.login-context-name: Client\n",
        &format!("env.java.default-opts.all: -Djava.security.auth.login.config={}\n", jaas.to_str().unwrap()),
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    assert!(!text.contains("flink-pw-7f3a"), "{text}");
    // The commands that log in as the daemons still need the file.
    for command in ["check-config", "status"] {
        let out = fhs(&[command, "--config", config], &[]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("zookeeper.password_file") && err.contains("cannot be read"), "{command}: {err}");
    }
    // With the file in place the rendering is the same: it never used the password.
    std::fs::write(&password, "flinkha-pw\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let again = fhs(&["render-flink-config", "--config", config, "--for", "taskmanager"], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), text);
}

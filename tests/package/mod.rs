//! What the tests of the Debian package share: the package built by scripts/build-deb from the
//! test binary, a Docker container to install it in, and a container with systemd as PID 1
//! (`fhs-systemd:bookworm`) with a ZooKeeper server on its loopback.

// Each test that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `program args`, returning (success, stdout, stderr); panics only when it cannot start.
pub fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fails the test, naming the fix, when there is no Docker engine or no image `image`.
pub fn require_docker_image(image: &str, fix: &str) {
    let (ok, _, err) = run("docker", &["info", "--format", "{{.ServerVersion}}"]);
    assert!(ok, "the Docker engine does not answer (docker info: {}): start it; this test needs Docker", err.trim());
    let (ok, _, _) = run("docker", &["image", "inspect", image]);
    assert!(ok, "the image {image} is missing: {fix}");
}

/// Builds the package of the test binary with version `deb_version` into `out` (scripts/build-deb
/// with `--fast` compression); the path of the .deb.
pub fn build_deb(out: &Path, deb_version: &str) -> PathBuf {
    let script = Path::new(REPO).join("scripts/build-deb");
    let out_str = out.to_str().unwrap();
    let (ok, stdout, stderr) = run(
        script.to_str().unwrap(),
        &[
            "--binary",
            env!("CARGO_BIN_EXE_flink-ha-supervisor"),
            "--deb-version",
            deb_version,
            "--out",
            out_str,
            "--fast",
        ],
    );
    assert!(ok, "scripts/build-deb failed:\n{stderr}");
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert_eq!(deb.parent(), Some(out), "scripts/build-deb printed {stdout:?}, not a package in {out_str}");
    assert!(deb.is_file(), "scripts/build-deb printed {}, which is not a file", deb.display());
    deb
}

/// The file name of `path`.
pub fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

/// A running container without network, `packages` mounted at /pkg; removed on drop.
pub struct Container {
    name: String,
}

impl Container {
    /// Starts `image` with `extra` `docker run` arguments and `command` (none: the image's own).
    pub fn start(image: &str, tag: &str, packages: &Path, extra: &[&str], command: &[&str]) -> Container {
        let name = format!("fhs-{tag}-test-{}", std::process::id());
        let _ = run("docker", &["rm", "-f", &name]);
        let mount = format!("{}:/pkg:ro", packages.display());
        let mut args = vec!["run", "-d", "--rm", "--network", "none", "--name", &name, "-v", &mount];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(command);
        let (ok, _, err) = run("docker", &args);
        assert!(ok, "docker run {image} failed: {err}");
        Container { name }
    }

    /// Runs `script` with bash -eu in the container: (success, stdout and stderr).
    pub fn try_sh(&self, script: &str) -> (bool, String) {
        let (ok, out, err) = run("docker", &["exec", &self.name, "bash", "-euc", script]);
        (ok, out + &err)
    }

    /// Runs `script` and returns its stdout and stderr; fails the test when it fails.
    pub fn sh(&self, script: &str) -> String {
        let (ok, out) = self.try_sh(script);
        assert!(ok, "in the container, this failed:\n{script}\n--- output:\n{out}");
        out
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run("docker", &["rm", "-f", &self.name]);
    }
}

/// The image with systemd as PID 1 (docker/build-images --base-only --systemd).
pub const SYSTEMD_IMAGE: &str = "fhs-systemd:bookworm";
/// The packaged unit.
pub const UNIT: &str = "flink-ha-supervisor";
/// The packaged configuration file.
pub const CONFIG: &str = "/etc/flink-ha-supervisor/flink-ha-supervisor.toml";

/// Starts `fhs-systemd:bookworm` (no network; `packages` at /pkg; `extra` more `docker run`
/// arguments, e.g. read-only mounts) and waits until systemd finished its start-up.
pub fn boot_systemd(tag: &str, packages: &Path, extra: &[&str]) -> Container {
    require_docker_image(SYSTEMD_IMAGE, "build it with docker/build-images --base-only --systemd");
    let mut args = vec![
        // CAP_SYS_ADMIN (and no seccomp or AppArmor profile) for the unit's mount namespace:
        // without them systemd skips ProtectSystem= and the like silently.
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--cgroupns=host",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "--tmpfs",
        "/tmp",
    ];
    args.extend_from_slice(extra);
    let c = Container::start(SYSTEMD_IMAGE, tag, packages, &args, &[]);
    // Waits for systemd's socket, then for the end of its start-up (running, or degraded when
    // some unit failed).
    wait_for(&c, "test -S /run/systemd/private", 30, "systemd did not open its socket", "ps -ef");
    let (_, state) = c.try_sh("systemctl is-system-running --wait");
    assert!(
        matches!(state.trim(), "running" | "degraded"),
        "systemd did not come up in the container ({}); the Docker engine must let it run with \
         --cgroupns=host and /sys/fs/cgroup mounted",
        state.trim()
    );
    c
}

/// Starts a ZooKeeper server from the base's ZooKeeper as the transient unit `fhs-zk`, on the
/// container's 127.0.0.1:`port`, and waits until it answers `ruok`.
pub fn start_zookeeper(c: &Container, port: u16) {
    c.sh(&format!(
        "mkdir -p /var/lib/fhs-zk && printf 'tickTime=2000\\ndataDir=/var/lib/fhs-zk\\nclientPort={port}\\n\
         clientPortAddress=127.0.0.1\\nadmin.enableServer=false\\n4lw.commands.whitelist=ruok\\n' >/etc/fhs-zk.cfg && \
         systemd-run --unit fhs-zk java -Xmx128m -XX:TieredStopAtLevel=1 \
         -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar \
         org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/fhs-zk.cfg"
    ));
    wait_for(
        c,
        &format!("[ \"$( (exec 3<>/dev/tcp/127.0.0.1/{port}; echo ruok >&3; cat <&3) 2>/dev/null)\" = imok ]"),
        60,
        "ZooKeeper did not answer ruok",
        "systemctl status fhs-zk --no-pager",
    );
}

/// `systemctl show` properties of `unit`, as `KEY=value` lines in the order asked.
pub fn show(c: &Container, unit: &str, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| c.sh(&format!("systemctl show -p {k} {unit}")).trim().to_string()).collect()
}

/// Waits in the container, up to `seconds`, until `condition` (a shell command) succeeds; fails
/// the test with `what` and the output of `describe` when it does not.
pub fn wait_for(c: &Container, condition: &str, seconds: u32, what: &str, describe: &str) {
    let script =
        format!("for i in $(seq {}); do if {condition}; then exit 0; fi; sleep 0.1; done; exit 1", seconds * 10);
    let (ok, _) = c.try_sh(&script);
    if !ok {
        let (_, state) = c.try_sh(describe);
        panic!("{what} within {seconds}s; state:\n{state}");
    }
}

/// The value of `key` in the container's `/proc/<pid>/status` (e.g. `CapEff`, `NoNewPrivs`).
pub fn proc_status(c: &Container, pid: u32, key: &str) -> String {
    c.sh(&format!("sed -n 's/^{key}:[[:space:]]*//p' /proc/{pid}/status")).trim().to_string()
}

/// The mount options (`ro,nosuid,...`) of `point` as the process `pid` sees it: those of the
/// last mount there, the one in effect; None when nothing is mounted at `point` for it.
pub fn mount_options(c: &Container, pid: u32, point: &str) -> Option<String> {
    let mounts = c.sh(&format!("awk '{{print $5, $6}}' /proc/{pid}/mountinfo"));
    let prefix = format!("{point} ");
    mounts.lines().filter_map(|l| l.strip_prefix(&prefix)).next_back().map(str::to_string)
}

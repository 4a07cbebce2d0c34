//! What the tests of the Debian package share: the package built by scripts/build-deb from the
//! test binary, and a Docker container to install it in.

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

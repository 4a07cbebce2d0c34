//! The Debian package (scripts/build-deb, cargo-deb) through its whole life in a Debian 12
//! container (`fhs-base:bookworm`, no network): `apt-get install ./flink-ha-supervisor_*.deb`,
//! the files, the system user, the binary, the man pages and completions generated from the
//! command line; an upgrade to a second build with a bumped version keeps the edited conffiles;
//! remove keeps the configuration and the user, purge removes both, but not a `flink` user that
//! existed before the package.
//!
//! Needs a Docker engine and the image `fhs-base:bookworm` (docker/build-images); without them the
//! test fails, naming the fix. The package holds the debug binary `cargo test` built (a release
//! build would take minutes of a shared machine for every run, and nothing checked here depends
//! on the profile); both packages are built once per run, with `--fast` compression.

mod package;

use std::path::Path;
use std::time::Instant;

use package::{build_deb, file_name, require_docker_image, run, Container};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const BASE_IMAGE: &str = "fhs-base:bookworm";
const CONFIG: &str = "/etc/flink-ha-supervisor/flink-ha-supervisor.toml";
const ENV_FILE: &str = "/etc/default/flink-ha-supervisor";

/// `dpkg-query`'s status and version of the package, e.g. `install ok installed 0.1.0-1`.
fn package_state(c: &Container) -> String {
    let (_, out) = c.try_sh("dpkg-query -W -f='${Status} ${Version}' flink-ha-supervisor 2>/dev/null || true");
    out.trim().to_string()
}

/// The paths of `paths` that do not exist as files in the container.
fn missing(c: &Container, paths: &[&str]) -> Vec<String> {
    let script = format!("for f in {}; do [ -f \"$f\" ] || echo \"$f\"; done", paths.join(" "));
    c.sh(&script).lines().map(str::to_string).collect()
}

/// The visible subcommands, from the binary's own `--help` (`help` aside).
fn subcommands() -> Vec<String> {
    let (ok, help, _) = run(env!("CARGO_BIN_EXE_flink-ha-supervisor"), &["--help"]);
    assert!(ok, "flink-ha-supervisor --help failed");
    let commands = help.split("Commands:\n").nth(1).expect("a Commands: section in --help");
    commands
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn install_upgrade_remove_purge() {
    let t0 = Instant::now();
    require_docker_image(BASE_IMAGE, "build it with docker/build-images --base-only");
    let out = tempfile::tempdir().unwrap();
    let v1 = format!("{VERSION}-1");
    let v2 = format!("{VERSION}-2");
    let deb1 = build_deb(out.path(), &v1);
    let deb2 = build_deb(out.path(), &v2);
    let built = t0.elapsed();
    let name = |deb: &Path| file_name(deb);
    assert_eq!(name(&deb1), format!("flink-ha-supervisor_{v1}_amd64.deb"));

    let c = Container::start(BASE_IMAGE, "debian-package", out.path(), &[], &["sleep", "infinity"]);

    // Install, as an operator would, without network: every dependency is in the base.
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", name(&deb1)));
    assert_eq!(package_state(&c), format!("install ok installed {v1}"));

    let mut files = vec![
        "/usr/bin/flink-ha-supervisor",
        "/usr/lib/systemd/system/flink-ha-supervisor.service",
        ENV_FILE,
        CONFIG,
        "/usr/share/flink-ha-supervisor/flink-ha-gate.jar",
        "/usr/share/man/man1/flink-ha-supervisor.1.gz",
        "/usr/share/bash-completion/completions/flink-ha-supervisor",
        "/usr/share/zsh/vendor-completions/_flink-ha-supervisor",
        "/usr/share/fish/vendor_completions.d/flink-ha-supervisor.fish",
    ];
    let pages: Vec<String> =
        subcommands().iter().map(|c| format!("/usr/share/man/man1/flink-ha-supervisor-{c}.1.gz")).collect();
    assert!(pages.len() >= 10, "too few subcommands in --help: {pages:?}");
    files.extend(pages.iter().map(String::as_str));
    assert_eq!(missing(&c, &files), Vec::<String>::new(), "files the package did not install");

    let conffiles = c.sh("dpkg-query -W -f='${Conffiles}' flink-ha-supervisor");
    for file in [CONFIG, ENV_FILE] {
        assert!(conffiles.contains(file), "{file} is not a conffile: {conffiles}");
    }

    // The binary, and the default gate jar a parked JobManager needs.
    assert_eq!(c.sh("flink-ha-supervisor --version").trim(), format!("flink-ha-supervisor {VERSION}"));
    c.sh("grep -q flinkha/gate/GatedHaServicesFactory.class /usr/share/flink-ha-supervisor/flink-ha-gate.jar");

    // The unit: the packaged binary, installed but not enabled (the example must be edited first).
    let unit = c.sh("cat /usr/lib/systemd/system/flink-ha-supervisor.service");
    assert!(
        unit.lines().any(|l| l
            == "ExecStart=/usr/bin/flink-ha-supervisor run --config /etc/flink-ha-supervisor/flink-ha-supervisor.toml"),
        "the packaged unit does not run /usr/bin/flink-ha-supervisor"
    );
    assert!(unit.lines().any(|l| l == "User=flink"), "the packaged unit does not run as flink");
    c.sh("! test -e /etc/systemd/system/multi-user.target.wants/flink-ha-supervisor.service");

    // The system user the unit names; only it (and root) may read the configuration.
    let passwd = c.sh("getent passwd flink");
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "flink is not a system user: {passwd}");
    assert_eq!((fields[5], fields[6]), ("/var/lib/flink", "/usr/sbin/nologin"), "{passwd}");
    assert_eq!(c.sh(&format!("stat -c '%U:%G %a' {CONFIG}")).trim(), "root:flink 640");
    c.sh(&format!("runuser -u flink -- test -r {CONFIG}"));
    c.sh(&format!("! runuser -u nobody -- test -r {CONFIG}"));

    // The man pages: the clap definitions, without the hidden commands.
    let man = c.sh("zcat /usr/share/man/man1/flink-ha-supervisor.1.gz");
    assert!(man.contains(".TH flink-ha-supervisor 1"), "no man page header:\n{man}");
    assert!(man.contains(r"flink\-ha\-supervisor\-check\-config(1)"), "the page does not list check-config:\n{man}");
    assert!(!man.contains("fence"), "the page lists the hidden fence-guard:\n{man}");
    let run_page = c.sh("zcat /usr/share/man/man1/flink-ha-supervisor-run.1.gz");
    assert!(run_page.contains(r"\-\-config"), "the run page has no --config:\n{run_page}");

    // The completions: bash completes a subcommand; zsh and fish files name the command.
    let completed = c.sh("source /usr/share/bash-completion/completions/flink-ha-supervisor; \
         COMP_WORDS=(flink-ha-supervisor check-c); COMP_CWORD=1; \
         _flink__ha__supervisor flink-ha-supervisor check-c flink-ha-supervisor; echo \"${COMPREPLY[*]}\"");
    assert_eq!(completed.trim(), "check-config", "bash completion of `check-c`");
    c.sh("! grep -l -e fence-guard -e package-files /usr/share/bash-completion/completions/flink-ha-supervisor \
         /usr/share/zsh/vendor-completions/_flink-ha-supervisor \
         /usr/share/fish/vendor_completions.d/flink-ha-supervisor.fish");
    c.sh("head -1 /usr/share/zsh/vendor-completions/_flink-ha-supervisor | grep -qx '#compdef flink-ha-supervisor'");
    c.sh("grep -q '^complete -c flink-ha-supervisor ' /usr/share/fish/vendor_completions.d/flink-ha-supervisor.fish");

    // Edit both conffiles, upgrade: the edits stay, no copy of the packaged versions appears.
    let edit = "# edited by tests/debian_package.rs";
    c.sh(&format!("echo '{edit}' >>{CONFIG}; sed -i 's|^FLINK_HOME=.*|FLINK_HOME=/srv/flink|' {ENV_FILE}"));
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", name(&deb2)));
    assert_eq!(package_state(&c), format!("install ok installed {v2}"));
    assert_eq!(c.sh(&format!("tail -1 {CONFIG}")).trim(), edit, "the upgrade lost the edit of {CONFIG}");
    assert_eq!(c.sh(&format!("grep ^FLINK_HOME= {ENV_FILE}")).trim(), "FLINK_HOME=/srv/flink");
    assert_eq!(c.sh("ls -A /etc/flink-ha-supervisor").trim(), "flink-ha-supervisor.toml");
    assert_eq!(c.sh("getent passwd flink").trim(), passwd.trim(), "the upgrade changed the user");

    // Remove: the program goes, the configuration (edited) and the user stay.
    c.sh("apt-get remove -y flink-ha-supervisor");
    assert_eq!(package_state(&c), format!("deinstall ok config-files {v2}"));
    c.sh("! test -e /usr/bin/flink-ha-supervisor");
    assert_eq!(c.sh(&format!("tail -1 {CONFIG}")).trim(), edit, "remove lost the configuration");
    c.sh(&format!("test -f {ENV_FILE}; getent passwd flink"));

    // Purge: configuration, state and the user the package created are gone.
    c.sh("apt-get purge -y flink-ha-supervisor");
    assert_eq!(package_state(&c), "", "purge left the package known to dpkg");
    for gone in ["/etc/flink-ha-supervisor", ENV_FILE, "/var/lib/flink-ha-supervisor"] {
        c.sh(&format!("! test -e {gone} || {{ echo 'purge left {gone}'; exit 1; }}"));
    }
    c.sh("! getent passwd flink && ! getent group flink");

    // A flink user that was there before the package (Flink's own) survives the purge.
    c.sh("adduser --system --group --quiet --home /opt/flink flink");
    let before = c.sh("getent passwd flink");
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", name(&deb2)));
    c.sh("apt-get purge -y flink-ha-supervisor");
    assert_eq!(c.sh("getent passwd flink"), before, "purge removed a user the package did not create");

    eprintln!("debian_package: packages built in {built:.1?}, whole test {:.1?}", t0.elapsed());
}

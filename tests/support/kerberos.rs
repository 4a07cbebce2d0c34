//! A real MIT Kerberos KDC for tests (Debian's krb5-kdc and krb5-admin-server): its realm, its
//! database, its configuration and its keytabs in a temp dir, `krb5kdc -n` as a child on a
//! loopback port, reached over TCP. Nothing under /etc is read or written: the tools get
//! `KRB5_CONFIG` and `KRB5_KDC_PROFILE` pointing at the temp files, and so must every client
//! (the daemons: [`Kdc::krb5_conf`]; the ZooKeeper servers: `-Djava.security.krb5.conf`).
//!
//! [`ZkEnsembleBuilder::kerberos`] gives the ZooKeeper servers a `Server` JAAS section with
//! Java's `Krb5LoginModule` and their service principal `zookeeper/localhost@REALM`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::{pick_free_port, wait_until, KillOnDrop, ZkEnsembleBuilder};

/// The test realm.
pub const REALM: &str = "FHS.TEST";

/// The ZooKeeper servers' service principal: the client asks for `zookeeper/<host of the
/// connect string>`, so the daemons' quorum names the servers `localhost`.
pub const ZK_SERVICE: &str = "zookeeper/localhost@FHS.TEST";

/// A running KDC; killed when dropped.
pub struct Kdc {
    dir: Arc<tempfile::TempDir>,
    /// Its loopback port (TCP and UDP).
    pub port: u16,
    krb5_conf: PathBuf,
    kdc_conf: PathBuf,
    _process: KillOnDrop,
}

/// Where Debian puts the KDC's programs (`/usr/sbin` may be missing from a test's PATH).
fn tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    }
}

impl Kdc {
    /// Makes the realm's database and starts the KDC; panics with the tools' output when that
    /// fails (krb5-kdc, krb5-admin-server and krb5-user missing: scripts/install-test-deps).
    pub fn start() -> Kdc {
        let dir = Arc::new(tempfile::Builder::new().prefix("fhs-kdc-").tempdir().expect("temp dir for the KDC"));
        let port = pick_free_port();
        let d = dir.path();
        let krb5_conf = d.join("krb5.conf");
        let kdc_conf = d.join("kdc.conf");
        std::fs::write(
            &krb5_conf,
            format!(
                "[libdefaults]\n  default_realm = {REALM}\n  dns_lookup_realm = false\n  dns_lookup_kdc = false\n  rdns = false\n  udp_preference_limit = 1\n[realms]\n  {REALM} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n[domain_realm]\n  localhost = {REALM}\n"
            ),
        )
        .expect("write krb5.conf");
        std::fs::write(
            &kdc_conf,
            format!(
                "[kdcdefaults]\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n[realms]\n  {REALM} = {{\n    database_name = {db}\n    key_stash_file = {stash}\n    acl_file = {acl}\n    kdc_listen = 127.0.0.1:{port}\n    kdc_tcp_listen = 127.0.0.1:{port}\n  }}\n[logging]\n  kdc = FILE:{log}\n",
                db = d.join("principal").display(),
                stash = d.join("stash").display(),
                acl = d.join("kadm5.acl").display(),
                log = d.join("kdc.log").display(),
            ),
        )
        .expect("write kdc.conf");
        let kdc = |name: &str| {
            let mut cmd = Command::new(tool(name));
            cmd.env("KRB5_CONFIG", &krb5_conf).env("KRB5_KDC_PROFILE", &kdc_conf);
            cmd
        };
        run(kdc("kdb5_util").args(["create", "-s", "-r", REALM, "-P", "fhs-test-master-key"]));
        let mut server = kdc("krb5kdc");
        server.args(["-n", "-P"]).arg(d.join("kdc.pid")).stdin(Stdio::null());
        server.stdout(Stdio::null()).stderr(std::fs::File::create(d.join("kdc.out")).expect("kdc.out"));
        let process = KillOnDrop::spawn(server).expect("start krb5kdc");
        wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Kdc { dir, port, krb5_conf, kdc_conf, _process: process }
    }

    /// The `krb5.conf` of the realm: every client's `KRB5_CONFIG`.
    pub fn krb5_conf(&self) -> &Path {
        &self.krb5_conf
    }

    /// Runs `kadmin.local -q <query>` on the realm's database.
    pub fn kadmin(&self, query: &str) {
        run(Command::new(tool("kadmin.local"))
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5_KDC_PROFILE", &self.kdc_conf)
            .args(["-q", query]));
    }

    /// Adds `principal` (a random key) if the realm lacks it, and writes its current keys to a
    /// new keytab named `file` (mode 0600).
    pub fn keytab(&self, principal: &str, file: &str) -> PathBuf {
        let path = self.dir.path().join(file);
        self.kadmin(&format!("addprinc -randkey -clearpolicy {principal}"));
        self.kadmin(&format!("ktadd -k {} {principal}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600 the keytab");
        path
    }
}

/// Runs a KDC tool; panics with its output when it fails or says it failed.
fn run(cmd: &mut Command) {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e} (apt-get install krb5-kdc krb5-admin-server)"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    // kadmin.local exits 0 when a query fails; its errors start with the query's name.
    let failed = text.lines().any(|l| l.contains("while ") && !l.contains("already exists"));
    assert!(output.status.success() && !failed, "{cmd:?} failed:\n{text}");
}

impl ZkEnsembleBuilder {
    /// SASL GSSAPI logins against `kdc`: a JAAS `Server` section logging the servers in as
    /// [`ZK_SERVICE`] from a keytab, ZooKeeper's `SASLAuthenticationProvider`, every client
    /// required to log in, and host and realm removed from the clients' principals in ACLs
    /// (`sasl:<primary>`).
    pub fn kerberos(mut self, kdc: &Kdc) -> Self {
        let keytab = kdc.keytab(ZK_SERVICE, "zookeeper.keytab");
        let jaas = kdc.dir.path().join("zookeeper-jaas.conf");
        std::fs::write(
            &jaas,
            format!(
                "Server {{\n    com.sun.security.auth.module.Krb5LoginModule required\n    useKeyTab=true\n    keyTab=\"{}\"\n    storeKey=true\n    useTicketCache=false\n    principal=\"{ZK_SERVICE}\";\n}};\n",
                keytab.display()
            ),
        )
        .expect("write the servers' JAAS file");
        self.jvm_args.push(format!("-Djava.security.auth.login.config={}", jaas.display()));
        self.jvm_args.push(format!("-Djava.security.krb5.conf={}", kdc.krb5_conf.display()));
        self.keep.push(kdc.dir.clone());
        self.config("authProvider.1", "org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
            .config("enforce.auth.enabled", "true")
            .config("enforce.auth.schemes", "sasl")
            .config("kerberos.removeHostFromPrincipal", "true")
            .config("kerberos.removeRealmFromPrincipal", "true")
    }
}

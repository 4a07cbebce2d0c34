//! Child processes that cannot outlive the test process.
//!
//! `Drop` kills children when a test ends or panics, but not when the test process itself is
//! killed (a `timeout`, a SIGKILL from CI, an abort). So every child is also spawned with
//! `PR_SET_PDEATHSIG = SIGKILL`. Linux sends that signal when the *thread* that forked the
//! child exits, not the process; test threads come and go, so all children are forked by one
//! helper thread that lives as long as the process.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("support-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
                    unsafe {
                        cmd.pre_exec(|| {
                            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(io::Error::from)
                        });
                    }
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the support-spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` so that the child gets SIGKILL when the test process dies, however it dies.
/// Use it for every long-running child a test starts (daemons, stand-ins, servers).
pub fn spawn_tied(cmd: Command) -> io::Result<Child> {
    let (tx, rx) = mpsc::channel();
    spawner().lock().unwrap().send((cmd, tx)).expect("support-spawner thread is gone");
    rx.recv().expect("support-spawner thread dropped the request")
}

/// A child process that is SIGKILLed and reaped when dropped (also while a test panics).
/// Spawned through [`spawn_tied`].
#[derive(Debug)]
pub struct KillOnDrop {
    child: Option<Child>,
}

impl KillOnDrop {
    /// Spawns `cmd` with [`spawn_tied`].
    pub fn spawn(cmd: Command) -> io::Result<KillOnDrop> {
        Ok(KillOnDrop { child: Some(spawn_tied(cmd)?) })
    }

    /// Wraps an already spawned child.
    pub fn new(child: Child) -> KillOnDrop {
        KillOnDrop { child: Some(child) }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("child present").id()
    }

    /// Mutable access to the underlying [`Child`] (for its pipes, `try_wait`, ...).
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child present")
    }

    /// Sends `signal` to the child (e.g. SIGTERM). Errors if it was already reaped.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> nix::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.id() as i32), signal)
    }

    /// Polls for the child's exit for up to `timeout`; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child().try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILLs the child (if still running) and reaps it; returns its exit status.
    pub fn kill(&mut self) -> ExitStatus {
        let child = self.child();
        let _ = child.kill();
        child.wait().expect("wait for killed child")
    }

    /// Gives up ownership without killing the child.
    pub fn into_inner(mut self) -> Child {
        self.child.take().expect("child present")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! The daemon's tasks, supervised: every task of the daemon is started with [`spawn`], and one
//! that panics, or ends with an error where it was meant to go on, is reported as a [`Death`] to
//! the daemon's main loop (`daemon::run`), which treats it as fatal: it logs it, answers
//! `/health` with 503, stops the JobManager, leaves the election and exits non-zero so that
//! systemd restarts it. A daemon whose election or heartbeat task died silently would otherwise
//! keep reporting healthy and never lead again.
//!
//! A task says how it ended through [`TaskEnd`]: `()` and `Ok(())` are normal ends (its session
//! closed, its process exited, the daemon dropped it); `Err(why)` is a death. A task aborted by
//! its owner is no death.
//!
//! Also here: the hidden `run --fault-panic-task NAME` that makes the task of that name panic as
//! it starts, so that tests can kill a task for real ([`arm_fault`]).

use std::cell::RefCell;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Mutex, OnceLock};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// A task of the daemon that died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Death {
    /// The task's name (as given to [`spawn`]).
    pub task: &'static str,
    /// The panic's message, or the error it ended with.
    pub why: String,
}

impl Display for Death {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the daemon's task `{}` died: {}", self.task, self.why)
    }
}

/// How a task's result reads: `None` for a normal end, `Some(why)` for a death.
pub(crate) trait TaskEnd {
    /// Why the task's end is a death, if it is.
    fn death(self) -> Option<String>;
}

impl TaskEnd for () {
    fn death(self) -> Option<String> {
        None
    }
}

impl<E: Display> TaskEnd for Result<(), E> {
    fn death(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

static DEATHS: Mutex<Option<UnboundedSender<Death>>> = Mutex::new(None);
static FAULT_TASK: OnceLock<String> = OnceLock::new();

thread_local! {
    /// The message of the panic unwinding on this thread, set by the panic hook.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// From now on, the deaths of tasks started with [`spawn`] arrive on the returned receiver (a
/// later call replaces it). Also installs a panic hook that keeps each panic's message and
/// place for the report (the previous hook still prints it).
pub(crate) fn watch() -> UnboundedReceiver<Death> {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            PANIC.with(|p| *p.borrow_mut() = Some(format!("panicked{place}: {message}")));
            previous(info);
        }));
    });
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut deaths) = DEATHS.lock() {
        *deaths = Some(tx);
    }
    rx
}

/// Tests only: the task named `task` panics as soon as it starts (`run --fault-panic-task`).
pub(crate) fn arm_fault(task: String) {
    let _ = FAULT_TASK.set(task);
}

/// Starts `future` as a supervised task named `task`: a panic, or an end that [`TaskEnd`] calls
/// a death, is logged and reported to the receiver of [`watch`].
pub(crate) fn spawn<F>(task: &'static str, future: F) -> JoinHandle<()>
where
    F: Future + Send + 'static,
    F::Output: TaskEnd,
{
    tokio::spawn(async move {
        let watch = OnPanic(task);
        if FAULT_TASK.get().is_some_and(|t| t == task) {
            panic!("fault injection: the task `{task}` panics");
        }
        let end = future.await;
        std::mem::forget(watch);
        if let Some(why) = end.death() {
            report(Death { task, why });
        }
    })
}

/// Reports a death when dropped while its thread unwinds a panic (the task's future is dropped
/// as the panic passes through it; an abort drops it without a panic, which is no death).
struct OnPanic(&'static str);

impl Drop for OnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let why = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panicked".into());
            report(Death { task: self.0, why });
        }
    }
}

fn report(death: Death) {
    tracing::error!(event = "task_died", task = death.task, why = death.why, "{death}; the daemon stops");
    if let Ok(deaths) = DEATHS.lock() {
        if let Some(tx) = deaths.as_ref() {
            let _ = tx.send(death);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_and_errors_are_deaths_normal_ends_and_aborts_are_not() {
        let mut deaths = watch();
        spawn("ends", async {}).await.unwrap();
        spawn("ok", async { Ok::<(), String>(()) }).await.unwrap();
        let aborted = spawn("aborted", std::future::pending::<()>());
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
        assert_eq!(deaths.try_recv().ok(), None);

        spawn("fails", async { Err::<(), _>("the election path is invalid") }).await.unwrap();
        assert_eq!(deaths.recv().await, Some(Death { task: "fails", why: "the election path is invalid".into() }));
        let slice = String::from("latch-\u{fc}123456789");
        let panicked = spawn("panics", async move {
            let _ = &slice[slice.len() - 10..];
        });
        assert!(panicked.await.unwrap_err().is_panic());
        let death = deaths.recv().await.unwrap();
        assert_eq!(death.task, "panics");
        assert!(death.why.contains("is not a char boundary") && death.why.contains("supervise.rs"), "{}", death.why);
    }
}

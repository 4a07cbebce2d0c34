//! What only the host that runs the daemon can tell: whether the JobManager's program can be
//! executed and the audit file appended to.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::Settings;

impl Settings {
    /// Checks what only the host that runs the daemon can tell: that `jobmanager.command`'s
    /// program exists and may be executed, and that `log.audit_file` can be appended to (an
    /// existing file that is not a FIFO or a directory, or a missing one in a writable
    /// directory). `run` and `check-config` call it after [`Settings::load`]; the commands that
    /// only talk to ZooKeeper (`status`, `pause`, ...) may run elsewhere and do not.
    pub(crate) fn check_host(&self) -> Result<(), ConfigError> {
        let jm = &self.jobmanager;
        if let Some(program) = jm.command.first() {
            let path_var = jm.env.get("PATH").cloned().or_else(|| std::env::var("PATH").ok());
            find_program(program, jm.workdir.as_deref(), path_var.as_deref()).map_err(|problem| {
                ConfigError::invalid(
                    "jobmanager.command",
                    format!("{problem}; install the JobManager there, or set jobmanager.command to its argv (the default is $FLINK_HOME/bin/jobmanager.sh start-foreground)"),
                )
            })?;
        }
        if let Some(file) = &self.log.audit_file {
            check_appendable(file).map_err(|problem| {
                ConfigError::invalid(
                    "log.audit_file",
                    format!("{problem}; point it at a file this daemon can append to"),
                )
            })?;
        }
        Ok(())
    }
}

/// Finds the program of a command the way the exec of the fence guard will: a name with a '/'
/// as a path (relative to `workdir` when set), any other in `path_var`'s directories.
fn find_program(program: &str, workdir: Option<&Path>, path_var: Option<&str>) -> Result<PathBuf, String> {
    use nix::unistd::{access, AccessFlags};
    let executable = |p: &Path| p.is_file() && access(p, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let path = match workdir {
            Some(dir) if Path::new(program).is_relative() => dir.join(program),
            _ => PathBuf::from(program),
        };
        return match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("the program {} does not exist", path.display()))
            }
            Err(e) => Err(format!("the program {} cannot be read: {e}", path.display())),
            Ok(m) if !m.is_file() => Err(format!("the program {} is not a file", path.display())),
            Ok(_) if !executable(&path) => Err(format!("the program {} is not executable", path.display())),
            Ok(_) => Ok(path),
        };
    }
    let dirs = path_var.unwrap_or_default();
    std::env::split_paths(dirs)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| format!("the program {program:?} is not an executable file in any directory of PATH ({dirs})"))
}

/// Whether the daemon can append to `file` without blocking: an existing file that is not a
/// FIFO, a socket or a directory and is writable, or a missing one in a writable directory.
fn check_appendable(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt as _;

    use nix::unistd::{access, AccessFlags};
    match std::fs::metadata(file) {
        Ok(m) => {
            let kind = m.file_type();
            if kind.is_dir() {
                return Err(format!("{} is a directory", file.display()));
            }
            if kind.is_fifo() || kind.is_socket() {
                return Err(format!("{} is a FIFO or a socket, whose writes can block", file.display()));
            }
            access(file, AccessFlags::W_OK).map_err(|e| format!("{} is not writable: {e}", file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(format!("the directory {} does not exist", parent.display()));
            }
            access(parent, AccessFlags::W_OK | AccessFlags::X_OK)
                .map_err(|e| format!("{} cannot be created in {}: {e}", file.display(), parent.display()))
        }
        Err(e) => Err(format!("{} cannot be used: {e}", file.display())),
    }
}

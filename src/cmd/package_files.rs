//! The hidden `package-files`: writes the man pages and the shell completions, generated from the
//! clap definitions of the command line, for a package to install (scripts/build-deb).
//!
//! `package-files --out DIR` writes `DIR/man/flink-ha-supervisor.1` (and one page per visible
//! subcommand, `flink-ha-supervisor-run.1`, ...) and `DIR/completions/` for bash, zsh and fish,
//! each under the file name its shell looks for.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

/// The arguments of `package-files`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The directory to write `man/` and `completions/` into (created when missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// The shells a completion is written for, and the file name each one's vendor directory expects.
const SHELLS: &[(Shell, &str)] = &[
    (Shell::Bash, "flink-ha-supervisor"),
    (Shell::Zsh, "_flink-ha-supervisor"),
    (Shell::Fish, "flink-ha-supervisor.fish"),
];

/// Writes the man pages and the completions of `command` below `args.out`; exit code 1 with one
/// line naming the path when a file cannot be written.
pub(crate) fn main(args: &Args, command: clap::Command) -> ExitCode {
    match write_all(&args.out, command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("flink-ha-supervisor: package-files: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `command` with only its visible subcommands: clap_mangen leaves the hidden ones out, but
/// clap_complete would offer them (`fence-guard`, `package-files`) to an operator's shell.
fn without_hidden(command: &clap::Command) -> clap::Command {
    let visible = command.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    let mut kept = clap::Command::new("flink-ha-supervisor")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .args(command.get_arguments().cloned())
        .subcommands(visible);
    if let Some(about) = command.get_about() {
        kept = kept.about(about.clone());
    }
    kept
}

fn write_all(out: &Path, command: clap::Command) -> Result<(), String> {
    let command = without_hidden(&command);
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    clap_mangen::generate_to(command.clone(), &man)
        .map_err(|e| format!("cannot write the man pages into {}: {e}", man.display()))?;
    for (shell, file_name) in SHELLS {
        let path = completions.join(file_name);
        let mut text = Vec::new();
        clap_complete::generate(*shell, &mut command.clone(), "flink-ha-supervisor", &mut text);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

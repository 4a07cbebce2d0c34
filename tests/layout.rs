//! The layout keeps its promises: fast checks over the tree, without ZooKeeper or processes
//! (`cargo` itself aside).
//!
//! * Every module of the tree is named in docs/ARCHITECTURE.md's code map.
//! * The core crate depends on no IO crate (`cargo tree`).
//! * No planning words (`seed 000`, `issue 4`, `requirement 5.3`) in code, docs or scripts.
//! * Every architecture invariant in docs/ARCHITECTURE.md is five lines or fewer, and the first
//!   one is the fencing rule.
//!
//! Each failure names the culprits and says how to fix them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The marker of an invariant in docs/ARCHITECTURE.md.
const INVARIANT: &str = "Architecture Invariant:";

/// The longest an invariant may be, in lines of the document.
const MAX_INVARIANT_LINES: usize = 5;

/// Crates that do IO (or are the runtime or clients of it): none may be among the core crate's
/// dependencies.
const IO_CRATES: &[&str] =
    &["tokio", "mio", "zookeeper-client", "axum", "hyper", "reqwest", "nix", "libc", "tracing-appender", "socket2"];

/// Where planning words must not appear: folders (searched recursively) and single files.
const WORDED_PLACES: &[&str] = &[
    "src",
    "crates",
    "docs",
    "config",
    "scripts",
    "tests",
    "bench",
    "docker",
    "java",
    "systemd",
    "debian",
    "monitoring",
    "README.md",
    "BENCHMARKS.md",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The path of `path` relative to the repository root, with `/` separators.
fn relative(path: &Path) -> String {
    let rel = path.strip_prefix(root()).expect("a path under the repository");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Every file under `dir`, recursively, skipping build output; sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    pending.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The Rust module files of the daemon crate (`src/`) and of every crate under `crates/`.
fn module_files() -> Vec<String> {
    let mut sources = vec![root().join("src")];
    let crates = std::fs::read_dir(root().join("crates")).expect("crates/ exists");
    sources.extend(crates.flatten().map(|entry| entry.path().join("src")).filter(|src| src.is_dir()));
    let mut modules: Vec<String> = sources
        .iter()
        .flat_map(|src| files_under(src))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| relative(&path))
        .collect();
    modules.sort();
    modules
}

/// The spellings that name a module in the code map: its path from the repository root, or, for
/// a folder module (`x/mod.rs`, or `x.rs` beside a folder `x/`), the folder's path with a
/// trailing `/`.
fn spellings(module: &str) -> Vec<String> {
    let mut names = vec![module.to_string()];
    if let Some(folder) = module.strip_suffix("/mod.rs") {
        names.push(format!("{folder}/"));
    } else if let Some(stem) = module.strip_suffix(".rs") {
        if root().join(stem).is_dir() {
            names.push(format!("{stem}/"));
        }
    }
    names
}

/// Whether `text` names `path` as a whole path: not as the tail of a longer path
/// (`src/lib.rs` in `crates/core/src/lib.rs`) nor, for a folder, as the head of a file's path
/// (`src/zk/` in `src/zk/election.rs`).
fn names_path(text: &str, path: &str) -> bool {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_-./".contains(c);
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + path.len()..].chars().next();
        !before.is_some_and(is_path_char) && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The "## Code Map" section of docs/ARCHITECTURE.md.
fn code_map(doc: &str) -> &str {
    let start = doc.find("\n## Code Map").expect("docs/ARCHITECTURE.md has a \"## Code Map\" section");
    let rest = &doc[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

#[test]
fn every_module_is_in_the_code_map() {
    let doc = read("docs/ARCHITECTURE.md");
    let map = code_map(&doc);
    let missing: Vec<String> = module_files()
        .into_iter()
        .filter(|module| !spellings(module).iter().any(|name| names_path(map, name)))
        .collect();
    assert!(
        missing.is_empty(),
        "modules missing from docs/ARCHITECTURE.md's code map:\n  {}\n\
         fix: name each one in the code map by its path from the repository root, in backticks \
         (a file as `src/zk/election.rs`, a folder module as `src/zk/`), with a line on what it \
         holds, under the component it belongs to",
        missing.join("\n  ")
    );
}

#[test]
fn the_core_crate_depends_on_no_io_crate() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let output = Command::new(cargo)
        .current_dir(root())
        .args(["tree", "-p", "flink-ha-core", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo tree failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    let packages: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(packages.contains(&"flink-ha-core"), "cargo tree listed no flink-ha-core:\n{tree}");
    let mut io: Vec<&str> = packages.into_iter().filter(|package| IO_CRATES.contains(package)).collect();
    io.sort();
    io.dedup();
    assert!(
        io.is_empty(),
        "crates/core (flink-ha-core) depends on IO crates: {}\n\
         (`cargo tree -p flink-ha-core -e normal -i {}` shows through what)\n\
         fix: the core decides and the adapters in src/ do the IO; move the code that needs the \
         crate into src/ and pass its result to the core as an event or an argument",
        io.join(", "),
        io[0]
    );
}

/// The planning word in `line` (lower-cased ASCII), if any: `seed 0NN`, `issue N` or
/// `issue #N`, `requirement N` or `requirement N.N`, `task N.N`, each a whole word.
fn planning_word(line: &str) -> Option<String> {
    let line = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    // The end of `N` or `N.N` (when `dotted`) starting at `from`, if the number is there.
    let number = |from: usize, dotted: Option<bool>| -> Option<usize> {
        let whole = digits(from);
        if whole == 0 {
            return None;
        }
        let mut end = from + whole;
        if bytes.get(end) == Some(&b'.') && digits(end + 1) > 0 {
            end += 1 + digits(end + 1);
        } else if dotted == Some(true) {
            return None;
        }
        Some(end)
    };
    for keyword in ["seed ", "issue ", "requirement ", "task "] {
        for (at, _) in line.match_indices(keyword) {
            if at > 0 && word_char(bytes[at - 1]) {
                continue;
            }
            let from = at + keyword.len();
            let end = match keyword {
                "seed " => (bytes.get(from) == Some(&b'0') && digits(from) == 3).then_some(from + 3),
                "issue " => number(from + usize::from(bytes.get(from) == Some(&b'#')), None),
                "requirement " => number(from, None),
                _ => number(from, Some(true)),
            };
            if let Some(end) = end.filter(|&end| !bytes.get(end).is_some_and(|&b| word_char(b))) {
                return Some(line[at..end].to_string());
            }
        }
    }
    None
}

#[test]
fn planning_words_are_recognised() {
    for hit in ["seed 000's rules", "(issue 7;", "issue #12", "Requirement 5.3.", "requirement 5", "Task 13.1"] {
        assert!(planning_word(hit).is_some(), "{hit:?} not recognised");
    }
    for miss in ["seeds 000", "seed 1234", "an issue here", "tissue 4", "requirements", "task 1", "issue 4x"] {
        assert_eq!(planning_word(miss), None, "{miss:?} taken for a planning word");
    }
}

#[test]
fn no_planning_words() {
    let mut found = Vec::new();
    for place in WORDED_PLACES {
        let path = root().join(place);
        let files = if path.is_dir() { files_under(&path) } else { vec![path] };
        // This file names the words it looks for.
        for file in files.into_iter().filter(|file| !file.ends_with("tests/layout.rs")) {
            // Images and other binary files are not text to read.
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            for (number, line) in text.lines().enumerate() {
                if let Some(word) = planning_word(line) {
                    found.push(format!("{}:{}: \"{word}\" in: {}", relative(&file), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "planning words (how the project was planned, meaningless to its users):\n  {}\n\
         fix: say the rule itself (e.g. \"a standby must take over within 30 s\") instead of \
         the issue, seed or requirement it came from",
        found.join("\n  ")
    );
}

/// The paragraphs of `doc` (runs of non-blank lines) that contain `marker`, each with the
/// number of its first line.
fn paragraphs_with<'a>(doc: &'a str, marker: &str) -> Vec<(usize, Vec<&'a str>)> {
    let mut found = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut first = 0;
    for (number, line) in doc.lines().chain(std::iter::once("")).enumerate() {
        if line.trim().is_empty() {
            if current.iter().any(|l| l.contains(marker)) {
                found.push((first + 1, std::mem::take(&mut current)));
            }
            current.clear();
        } else {
            if current.is_empty() {
                first = number;
            }
            current.push(line);
        }
    }
    found
}

#[test]
fn invariants_are_short_and_fencing_comes_first() {
    let doc = read("docs/ARCHITECTURE.md");
    let invariants = paragraphs_with(&doc, INVARIANT);
    assert!(!invariants.is_empty(), "docs/ARCHITECTURE.md has no \"{INVARIANT}\" paragraph");
    let long: Vec<String> = invariants
        .iter()
        .filter(|(_, lines)| lines.len() > MAX_INVARIANT_LINES)
        .map(|(line, lines)| format!("docs/ARCHITECTURE.md:{line}: {} lines: {}", lines.len(), lines[0].trim()))
        .collect();
    assert!(
        long.is_empty(),
        "architecture invariants longer than {MAX_INVARIANT_LINES} lines:\n  {}\n\
         fix: state the rule and who keeps it in {MAX_INVARIANT_LINES} lines; move the reasoning \
         into a paragraph of its own after it, and measured figures into BENCHMARKS.md",
        long.join("\n  ")
    );
    let (line, first) = &invariants[0];
    assert!(
        first.iter().any(|l| l.to_lowercase().contains("fencing")),
        "docs/ARCHITECTURE.md:{line}: the first architecture invariant is not the fencing rule: {}\n\
         fix: put the fencing rule first, under the core's machine",
        first[0].trim()
    );
}

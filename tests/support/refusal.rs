//! What the tests of refusals check of a finished command: exit code 2, one line, no secret.

use std::process::Output;

/// A finished command's stdout, then its stderr, as text.
pub fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Asserts exit code 2 with one line on stderr that holds every one of `words`, and none of
/// `secrets` anywhere in the output.
#[track_caller]
pub fn assert_refused_in_one_line(output: &Output, words: &[&str], secrets: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = output_text(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    for word in words {
        assert!(stderr.contains(word), "{word:?} missing from: {stderr}");
    }
    for secret in secrets {
        assert!(!text.contains(secret), "a password leaked");
    }
}

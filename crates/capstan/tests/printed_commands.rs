//! Every command line capstan prints for a user to run exists and parses. The command lines are
//! taken from the outputs the scenario tests keep (every `.snap` file of the workspace): a
//! `capstan …` in backticks, at the start of a line or a list item, or after `: ` (hints such as
//! `all namespaces: capstan get hr -A`). Each runs with `--help` appended, which clap answers
//! only after every subcommand, flag and value before it has parsed. Placeholders (`DIR`,
//! `NAME`, `<repo>`) stand for a word.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn snapshot_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "node_modules" {
                snapshot_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "snap") {
            out.push(path);
        }
    }
}

/// Where a `capstan ` starts a command: line start (after a list marker or a `Word:` label),
/// after a backtick, or after `: `.
fn commands_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut at = 0;
        while let Some(offset) = line[at..].find("capstan ") {
            let start = at + offset;
            at = start + "capstan ".len();
            let before = line[..start].trim();
            let starts_line = before.is_empty()
                || before.trim_start_matches(|c: char| c.is_ascii_digit()) == "."
                || before == "-"
                || before == "$"
                || (before.ends_with(':')
                    && before
                        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
                        .chars()
                        .all(|c| {
                            c.is_alphabetic() || c == ' ' || c == ':' || c == '(' || c == ')'
                        }));
            let quoted = line[..start].ends_with('`');
            let after_colon = line[..start].ends_with(": ");
            if !(starts_line || quoted || after_colon) {
                continue;
            }
            let rest = &line[start..];
            let end = if quoted {
                rest.find('`').unwrap_or(rest.len())
            } else {
                // a shell line ends the command at a pipe, a redirection or `&&`
                rest.find(['`', ';', '|', '>', '&']).unwrap_or(rest.len())
            };
            let command = rest[..end].trim().trim_end_matches(['.', ',', ')']);
            let verb = command.split_whitespace().nth(1).unwrap_or("");
            // `capstan check: clean`, `capstan diff (…)` are titles, not commands
            if verb.is_empty() || !verb.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                continue;
            }
            found.push(command.to_owned());
        }
    }
    found
}

/// Shell words: single and double quotes group; placeholders become a plain word.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
        .into_iter()
        .filter(|w| w != "…")
        .map(|w| {
            let placeholder = w.len() > 1
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c == '.')
                || (w.starts_with('<') && w.ends_with('>'));
            if placeholder { "x".to_owned() } else { w }
        })
        .collect()
}

#[test]
fn every_printed_command_line_parses() {
    let mut files = Vec::new();
    snapshot_files(&workspace().join("crates"), &mut files);
    assert!(!files.is_empty(), "snapshots found");
    let mut commands: Vec<(String, PathBuf)> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read snapshot");
        for command in commands_in(&text) {
            if !commands.iter().any(|(c, _)| *c == command) {
                commands.push((command, file.clone()));
            }
        }
    }
    assert!(
        commands
            .iter()
            .any(|(c, _)| c.starts_with("capstan get hr -A")),
        "the get hint's command is among them: {commands:?}"
    );
    let mut broken = Vec::new();
    for (command, file) in &commands {
        let args = words(command);
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(&args[1..])
            .arg("--help")
            .output()
            .expect("capstan runs");
        if !output.status.success() {
            broken.push(format!(
                "{command}   (from {}): {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "commands that do not parse:\n{}",
        broken.join("\n")
    );
}

#[test]
fn extraction_finds_commands_and_skips_titles() {
    let text = "### capstan check: clean\n  3. capstan get ks a -A\nall namespaces: capstan get hr -A --path x\nrun `capstan man --out-dir DIR` now\ncapstan reads Flux\n";
    let found = commands_in(text);
    assert_eq!(
        found,
        [
            "capstan get ks a -A",
            "capstan get hr -A --path x",
            "capstan man --out-dir DIR",
            "capstan reads Flux"
        ]
    );
    assert_eq!(
        words("capstan man --out-dir DIR"),
        ["capstan", "man", "--out-dir", "x"]
    );
    assert_eq!(
        words("capstan get ks 'a b'"),
        ["capstan", "get", "ks", "a b"]
    );
}

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

/// Every source file under `crates/*/src` (Rust and the built-in YAML rules); the test adds
/// README.md and docs/*.md.
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let name = entry.file_name();
            if !["tests", "snapshots", "testdata", "benches", "target"]
                .iter()
                .any(|skip| name == *skip)
            {
                source_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs" || e == "yaml")
            && !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
        {
            out.push(path);
        }
    }
}

/// The text a user can be shown from one source line: a Rust line's string literals (comments
/// and doc comments are for readers of the code), a YAML or Markdown line whole.
fn shown_text(line: &str, yaml: bool) -> Vec<String> {
    let trimmed = line.trim_start();
    if yaml {
        return if trimmed.starts_with('#') {
            Vec::new()
        } else {
            // a Markdown table's escaped `\|` separates alternatives (`get ks\|hr`)
            vec![line.replace("\\|", "|")]
        };
    }
    if trimmed.starts_with("//") || trimmed.starts_with("#[") {
        return Vec::new();
    }
    let mut literals = Vec::new();
    let mut current: Option<String> = None;
    let mut escaped = false;
    for c in line.chars() {
        match current.as_mut() {
            None if c == '"' => current = Some(String::new()),
            None => {}
            Some(text) if escaped => {
                text.push(if c == 'n' { '\n' } else { c });
                escaped = false;
            }
            Some(_) if c == '\\' => escaped = true,
            Some(_) if c == '"' => literals.extend(current.take()),
            Some(text) => text.push(c),
        }
    }
    // a literal continued on the next line is still shown text
    literals.extend(current);
    literals
}

/// `TOOL …` command lines in `text`: from `TOOL ` (at the start, after a backtick, `: `, `(`,
/// `$(` or a space) to the end of the command (a backtick, `;`, `|`, `&&`, `>`, an unbalanced
/// `)`, or `, ` / ` (` that starts prose). Format placeholders (`{}`, `{name}`) become a word.
fn tool_commands(text: &str, tool: &str) -> Vec<String> {
    let needle = format!("{tool} ");
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find(&needle) {
        let start = at + offset;
        at = start + needle.len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '/' || c == '.') {
            continue;
        }
        // a Markdown heading (`# capstan check rules`) is a title
        if text[..start].trim_end().ends_with('#') {
            continue;
        }
        let rest = &text[start..];
        let mut depth = 0i32;
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let chars: Vec<(usize, char)> = rest.char_indices().collect();
        for (i, &(byte, c)) in chars.iter().enumerate() {
            let next = chars.get(i + 1).map(|&(_, c)| c);
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'') => quote = Some('\''),
                // a `<placeholder, maybe of several words>` (not a redirection)
                (None, '<') => quote = Some('>'),
                (None, '(') if byte > 0 && rest[..byte].ends_with('$') => depth += 1,
                (None, '(') if byte > 0 && rest[..byte].ends_with(' ') => {
                    end = byte;
                    break;
                }
                (None, ')') if depth > 0 => depth -= 1,
                (None, ')' | '`' | ';' | '|' | '>' | '&' | '\n') => {
                    end = byte;
                    break;
                }
                (None, ',') if next == Some(' ') => {
                    end = byte;
                    break;
                }
                // a shell comment, or a line continued
                (None, '#' | '\\') if byte > 0 && rest[..byte].ends_with(' ') => {
                    end = byte;
                    break;
                }
                _ => {}
            }
        }
        let mut command = rest[..end].trim();
        // a sentence's full stop or colon, not a `.` argument
        if !command.ends_with(" .") {
            command = command.trim_end_matches(['.', ':']);
        }
        found.push(command.to_owned());
    }
    found
}

/// A usage text's optional `[…]` parts left out, and each `<placeholder of any words>` one word.
fn optional_parts_removed(command: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut angle = false;
    for c in command.chars() {
        match c {
            '[' if !angle => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '<' => {
                angle = true;
                out.push('x');
            }
            '>' if angle => angle = false,
            _ if angle => {}
            c => out.push(c),
        }
    }
    out
}

/// Placeholders of format strings and usage texts become one word; optional `[…]` parts go.
fn placeholders(command: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut bracket = 0;
    for c in command.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push('x');
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            '[' if depth == 0 => bracket += 1,
            ']' if bracket > 0 => bracket -= 1,
            _ if depth > 0 || bracket > 0 => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `command` parses (`--help` appended). A format placeholder standing alone (`{}`,
/// `{short}`) may be a value, a kind (`ks`) or flags that may be empty (`{ns_flag}`): the line
/// parses when one of those readings does — the words written out are what is checked.
fn capstan_parses(command: &str) -> Result<(), String> {
    let raw: Vec<String> = words(&optional_parts_removed(command));
    let standalone: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(_, w)| w.starts_with('{') && w.ends_with('}'))
        .map(|(i, _)| i)
        .take(4)
        .collect();
    let readings = 3usize.pow(standalone.len() as u32);
    let mut first_error = None;
    for reading in 0..readings {
        let mut args = Vec::new();
        for (i, word) in raw.iter().enumerate().skip(1) {
            match standalone.iter().position(|&s| s == i) {
                Some(k) => match (reading / 3usize.pow(k as u32)) % 3 {
                    0 => args.push("x".to_owned()),
                    1 => args.push("ks".to_owned()),
                    _ => {}
                },
                None => args.push(placeholders(word)),
            }
        }
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(&args)
            .arg("--help")
            .output()
            .expect("capstan runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // every word parsed; only a placeholder stands where a value from a list belongs
        // (`--fail-on LEVEL`)
        if output.status.success() || stderr.starts_with("error: invalid value 'x'") {
            return Ok(());
        }
        first_error.get_or_insert_with(|| {
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        });
    }
    Err(first_error.unwrap_or_default())
}

fn capstan_verbs() -> Vec<String> {
    let help = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("--help")
        .output()
        .expect("capstan runs");
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The commands of flux's CLI (flux2 `cmd/flux`), for the flux command lines capstan prints.
const FLUX_COMMANDS: &[&str] = &[
    "bootstrap",
    "build",
    "check",
    "completion",
    "create",
    "debug",
    "delete",
    "diff",
    "envsubst",
    "events",
    "export",
    "get",
    "install",
    "logs",
    "migrate",
    "pull",
    "push",
    "reconcile",
    "resume",
    "stats",
    "suspend",
    "tag",
    "trace",
    "tree",
    "uninstall",
    "version",
];

#[test]
fn every_command_line_in_the_sources_parses() {
    let mut files = Vec::new();
    source_files(&workspace().join("crates"), &mut files);
    assert!(files.len() > 50, "sources found: {}", files.len());
    // the documentation's command lines are printed for users too
    files.push(workspace().join("README.md"));
    if let Ok(entries) = std::fs::read_dir(workspace().join("docs")) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    let verbs = capstan_verbs();
    assert!(verbs.iter().any(|v| v == "get"), "{verbs:?}");
    let kubectl = capstan_testkit::oracle::oracle("kubectl");
    let mut checked = (0, 0, 0);
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "md");
        let rel = file
            .strip_prefix(workspace())
            .unwrap_or(file)
            .display()
            .to_string();
        for (number, line) in text.lines().enumerate() {
            for shown in shown_text(line, yaml) {
                let place = format!("{rel}:{}", number + 1);
                for command in tool_commands(&shown, "capstan") {
                    let args = words(&placeholders(&optional_parts_removed(&command)));
                    // prose: `capstan reads …`, `capstan does not …`
                    if !args.get(1).is_some_and(|verb| verbs.contains(verb)) {
                        continue;
                    }
                    checked.0 += 1;
                    if let Err(error) = capstan_parses(&command) {
                        broken.push(format!("{command}   ({place}): {error}"));
                    }
                }
                for command in tool_commands(&shown, "flux") {
                    let args = words(&placeholders(&optional_parts_removed(&command)));
                    let Some(verb) = args.get(1) else { continue };
                    // prose (`flux bootstrap's …` aside): only lower-case words are commands
                    if !verb.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                        continue;
                    }
                    checked.1 += 1;
                    if !FLUX_COMMANDS.contains(&verb.as_str()) {
                        broken.push(format!("{command}   ({place}): no such flux command"));
                    }
                }
                let Some(kubectl) = &kubectl else { continue };
                for command in tool_commands(&shown, "kubectl") {
                    let args = words(&placeholders(&optional_parts_removed(&command)));
                    // prose (`kubectl Apply/Update`): commands are lower-case words or flags
                    if !args
                        .get(1)
                        .is_some_and(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                    {
                        continue;
                    }
                    checked.2 += 1;
                    let output = Command::new(kubectl)
                        .args(&args[1..])
                        .arg("--help")
                        .output()
                        .expect("kubectl runs");
                    if !output.status.success() {
                        broken.push(format!(
                            "{command}   ({place}): {}",
                            String::from_utf8_lossy(&output.stderr)
                                .lines()
                                .next()
                                .unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "checked {} capstan, {} flux and {} kubectl command lines",
        checked.0, checked.1, checked.2
    );
    assert!(checked.0 > 10, "capstan command lines found: {}", checked.0);
    assert!(
        broken.is_empty(),
        "command lines in the sources that do not parse:\n{}",
        broken.join("\n")
    );
}

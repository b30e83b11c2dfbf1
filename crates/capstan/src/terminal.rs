//! How output looks on this terminal: colour and progress, decided once for every command.
//!
//! Colour follows `--color` (`auto` by default): `always` and `never` are obeyed; `auto` colours
//! only a terminal, and never when `NO_COLOR` is set (to anything non-empty, per no-color.org)
//! or `TERM=dumb`. `CLICOLOR_FORCE` acts as `--color always`. Progress goes to stderr only when
//! stderr is a terminal and the run is not in CI (`CI` set to anything but `false`/`0`), so logs
//! and pipes never receive spinner frames.

use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// The decisions every command follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Colour stdout.
    pub color: bool,
    /// Show progress on stderr.
    pub progress: bool,
}

/// What the environment says, read once (kept apart so the decision is a pure function).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub no_color: bool,
    pub clicolor_force: bool,
    pub term_dumb: bool,
    pub ci: bool,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
}

impl Environment {
    pub fn of_process() -> Environment {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let ci = std::env::var("CI").is_ok_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            !v.is_empty() && v != "false" && v != "0"
        });
        Environment {
            no_color: set("NO_COLOR"),
            clicolor_force: std::env::var("CLICOLOR_FORCE")
                .is_ok_and(|v| !v.is_empty() && v != "0"),
            term_dumb: std::env::var("TERM").is_ok_and(|t| t == "dumb"),
            ci,
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Terminal {
    pub fn decide(choice: ColorChoice, env: &Environment) -> Terminal {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if env.clicolor_force && !env.no_color => true,
            ColorChoice::Auto => env.stdout_tty && !env.no_color && !env.term_dumb,
        };
        Terminal {
            color,
            progress: env.stderr_tty && !env.ci && !env.term_dumb,
        }
    }
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

/// Decides once, at start-up, from `--color` and the process environment.
pub fn init(choice: ColorChoice) {
    let _ = TERMINAL.set(Terminal::decide(choice, &Environment::of_process()));
}

/// The decisions made at start-up (`--color auto` and the environment when not initialised).
pub fn get() -> Terminal {
    *TERMINAL.get_or_init(|| Terminal::decide(ColorChoice::Auto, &Environment::of_process()))
}

/// A spinner counting finished items on stderr, or `None` when progress is off. `what` names
/// the items (`built`, `checked`).
pub fn spinner(what: &str) -> Option<indicatif::ProgressBar> {
    let terminal = get();
    if !terminal.progress {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    let template = if terminal.color {
        format!("{{spinner:.cyan}} {what} {{pos}} ({{elapsed}})")
    } else {
        format!("{{spinner}} {what} {{pos}} ({{elapsed}})")
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tty() -> Environment {
        Environment {
            stdout_tty: true,
            stderr_tty: true,
            ..Environment::default()
        }
    }

    #[test]
    fn auto_colours_a_terminal_only() {
        assert!(Terminal::decide(ColorChoice::Auto, &tty()).color);
        assert!(!Terminal::decide(ColorChoice::Auto, &Environment::default()).color);
    }

    #[test]
    fn no_color_and_dumb_terminals_turn_auto_off() {
        let env = Environment {
            no_color: true,
            ..tty()
        };
        assert!(!Terminal::decide(ColorChoice::Auto, &env).color);
        let env = Environment {
            term_dumb: true,
            ..tty()
        };
        assert!(!Terminal::decide(ColorChoice::Auto, &env).color);
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let env = Environment {
            no_color: true,
            ..tty()
        };
        assert!(Terminal::decide(ColorChoice::Always, &env).color);
        assert!(!Terminal::decide(ColorChoice::Never, &tty()).color);
        let forced = Environment {
            clicolor_force: true,
            ..Environment::default()
        };
        assert!(Terminal::decide(ColorChoice::Auto, &forced).color);
    }

    #[test]
    fn progress_only_on_a_terminal_outside_ci() {
        assert!(Terminal::decide(ColorChoice::Auto, &tty()).progress);
        let ci = Environment { ci: true, ..tty() };
        assert!(!Terminal::decide(ColorChoice::Auto, &ci).progress);
        let piped = Environment {
            stdout_tty: true,
            ..Environment::default()
        };
        assert!(!Terminal::decide(ColorChoice::Auto, &piped).progress);
    }
}

//! How progress is shown: Flux's markers (`►` doing, `✔` done, `✗`
//! failed, `◎` waiting, `⚠` a warning) on stderr, coloured only on a terminal and never
//! with `NO_COLOR` set; a spinner while waiting, on a terminal only.
//! Results go to stdout through [`out`].

use std::io::{IsTerminal as _, Write as _};

/// Where progress goes.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    color: bool,
    tty: bool,
}

impl Ui {
    /// Decides colour and spinner from stderr and `NO_COLOR`.
    #[must_use]
    pub fn detect() -> Self {
        let tty = std::io::stderr().is_terminal();
        Self {
            color: tty && std::env::var_os("NO_COLOR").is_none(),
            tty,
        }
    }

    fn line(self, mark: &str, color: &str, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            // Clear a spinner left on the line.
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = if self.color {
            writeln!(err, "\x1b[{color}m{mark}\x1b[0m {message}")
        } else {
            writeln!(err, "{mark} {message}")
        };
    }

    /// Something is being done.
    pub fn action(self, message: &str) {
        self.line("►", "0", message);
    }

    /// Something succeeded.
    pub fn success(self, message: &str) {
        self.line("✔", "32", message);
    }

    /// Something failed.
    pub fn failure(self, message: &str) {
        self.line("✗", "31", message);
    }

    /// Something the user should know: the command goes on.
    pub fn warning(self, message: &str) {
        self.line("⚠", "33", message);
    }

    /// Waiting begins.
    pub fn waiting(self, message: &str) {
        self.line("◎", "33", message);
    }

    /// One spinner frame (`tick` counts up); nothing off a terminal.
    pub fn spin(self, tick: usize, message: &str) {
        const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        if !self.tty {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} {message}", FRAMES[tick % FRAMES.len()]);
        let _ = err.flush();
    }
}

/// Writes a command's result to stdout (progress goes to stderr); a closed
/// pipe is not an error worth reporting.
pub fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

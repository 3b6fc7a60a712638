//! The user's values sources, merged in Helm's order: each `-f` file (maps merged, anything
//! else replaced), then `--set-json`, `--set`, `--set-string`, `--set-file` and `--set-literal`.

use crate::values::Values;
use crate::values::read::{merge_into, read_values};
use crate::values::strvals::{self, Mode};

/// A values source that does not read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A values file is not valid.
    #[error(transparent)]
    File(#[from] crate::values::read::Error),
    /// A `--set`-style flag does not parse; the text is Helm's.
    #[error("failed parsing {flag} data: {source}")]
    Set {
        /// The flag (`--set`, `--set-json`, ...).
        flag: &'static str,
        /// What is wrong.
        source: strvals::Error,
    },
}

/// The user's values, as `helm template` takes them.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    /// `-f` files: (name for errors, content), in order.
    pub files: Vec<(String, String)>,
    /// `--set-json` lines.
    pub set_json: Vec<String>,
    /// `--set` lines.
    pub set: Vec<String>,
    /// `--set-string` lines.
    pub set_string: Vec<String>,
    /// `--set-file` lines (`key=path`).
    pub set_file: Vec<String>,
    /// `--set-literal` lines.
    pub set_literal: Vec<String>,
}

impl ValueOptions {
    /// The merged user values; `read` reads the files `--set-file` names.
    ///
    /// # Errors
    /// A values file or flag that does not parse, a `--set-file` file that cannot be read.
    pub fn merge(
        &self,
        read: &mut dyn FnMut(&str) -> Result<String, std::io::Error>,
    ) -> Result<Values, Error> {
        let mut out = Values::new();
        for (name, text) in &self.files {
            merge_into(&mut out, read_values(text, name)?);
        }
        let typed = [
            ("--set-json", &self.set_json, Mode::Json),
            ("--set", &self.set, Mode::Typed),
            ("--set-string", &self.set_string, Mode::String),
        ];
        for (flag, lines, mode) in typed {
            for line in lines {
                strvals::parse_into(line, &mut out, mode)
                    .map_err(|source| Error::Set { flag, source })?;
            }
        }
        for line in &self.set_file {
            strvals::parse_file_into(line, &mut out, &mut *read).map_err(|source| Error::Set {
                flag: "--set-file",
                source,
            })?;
        }
        for line in &self.set_literal {
            strvals::parse_into(line, &mut out, Mode::Literal).map_err(|source| Error::Set {
                flag: "--set-literal",
                source,
            })?;
        }
        Ok(out)
    }
}

//! The user's values sources, merged in Helm's order: each `-f` file (maps merged, anything
//! else replaced), then `--set-json`, `--set`, `--set-string`, `--set-file` and `--set-literal`.

use crate::values::Values;
use crate::values::read::{Error, merge_into, read_values};

/// The user's values, as `helm template` takes them.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    /// `-f` files: (name for errors, content), in order.
    pub files: Vec<(String, String)>,
}

impl ValueOptions {
    /// The merged user values.
    ///
    /// # Errors
    /// A values file that does not read.
    pub fn merge(&self) -> Result<Values, Error> {
        let mut out = Values::new();
        for (name, text) in &self.files {
            merge_into(&mut out, read_values(text, name)?);
        }
        Ok(out)
    }
}

//! Helm's wording of template errors, as `helm template` prints them after `Error: `.
//!
//! Helm rewrites Go's messages:
//! - a parse error becomes `parse error at (<file>:<line>): <message>`, where the message is
//!   only what follows the last `: ` of Go's (so `illegal number syntax: "0x"` is `"0x"`);
//! - a `fail` or `required` anywhere (even inside `include`) becomes
//!   `execution error at (<outermost position>): <message>`;
//! - an error whose innermost cause is a function's own failure (`error calling eq: ...`)
//!   keeps Go's one-line text;
//! - any other execution error becomes a traceback, one block per level of `include`:
//!   `<file>:<line>:<col>\n  executing "<template>" at <<node>>:\n    <message>`.

use crate::template::{ExecError, ParseError, quote};

/// Helm's text for a parse error.
#[must_use]
pub fn parse_message(err: &ParseError) -> String {
    let text = err.to_string();
    let last = text.rsplit(": ").next().unwrap_or(&text);
    format!("parse error at ({}:{}): {last}", err.name, err.line)
}

/// Helm's text for an execution error.
#[must_use]
pub fn exec_message(err: &ExecError) -> String {
    let mut levels = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        levels.push(e);
        current = match e {
            ExecError::At(at) => at.cause.as_ref(),
            _ => None,
        };
    }
    if let Some(ExecError::At(at)) = levels.last()
        && at.cause.is_none()
        && let Some(f) = &at.function
    {
        let message = &at.message;
        if f == "fail" || f == "required" {
            let outer = match err {
                ExecError::At(outer) => outer.location.as_str(),
                ExecError::Template { template, .. } => template.as_str(),
                ExecError::NotDefined { name, .. } => name.as_str(),
            };
            let prefix = format!("error calling {f}: ");
            let text = message.strip_prefix(&prefix).unwrap_or(message);
            return format!("execution error at ({outer}): {text}");
        }
        return err.to_string();
    }
    let parts: Vec<String> = levels
        .iter()
        .map(|e| match e {
            ExecError::At(at) => {
                let message = match (&at.cause, &at.function) {
                    (Some(_), Some(f)) => format!("error calling {f}:"),
                    _ => at.message.clone(),
                };
                format!(
                    "{}\n  executing {} at <{}>:\n    {message}",
                    at.location,
                    quote(&at.template, false),
                    at.context
                )
            }
            other => other.to_string(),
        })
        .collect();
    parts.join("\n")
}

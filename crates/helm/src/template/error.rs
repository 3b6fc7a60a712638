//! Parse and execution errors, printed exactly as Go's `text/template` prints them.

/// A template that does not parse: `template: <source>:<line>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name the source was parsed under (the file name).
    pub name: String,
    /// The 1-based line Go reports.
    pub line: usize,
    /// Go's message (`function "nope" not defined`, `unexpected EOF`, ...).
    pub message: String,
}

/// Where and how an execution failed at a node (boxed inside [`ExecError::At`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// `<source>:<line>:<col>` of the node (col is a 0-based byte offset, as Go counts).
    pub location: String,
    /// The name of the template being executed (a file, or a `define`).
    pub template: String,
    /// Go's text of the node.
    pub context: String,
    /// What went wrong (`error calling eq: incompatible types for comparison: ...`).
    pub message: String,
    /// The function whose call failed, when the message is `error calling <function>: ...`.
    pub function: Option<String>,
    /// The execution error the failed function itself reported (`include` of a failing
    /// template), which the message ends with.
    pub cause: Option<ExecError>,
}

/// A failure while executing a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// An error at a node:
    /// `template: <source>:<line>:<col>: executing "<template>" at <<node>>: <message>`.
    #[error("template: {}: executing {} at <{}>: {}", .0.location, super::fmt::quote(&.0.template, false), .0.context, .0.message)]
    At(Box<Located>),
    /// An error before any node ran: `template: <template>: <message>`.
    #[error("template: {template}: {message}")]
    Template {
        /// The template's name.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// Execution of a template name that is not defined.
    #[error("template: no template {} associated with template {}", super::fmt::quote(.name, false), super::fmt::quote(.set, false))]
    NotDefined {
        /// The name asked for.
        name: String,
        /// The template set's name.
        set: String,
    },
}

impl ExecError {
    /// The message after the position and node, without Go's prefix.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            ExecError::At(at) => &at.message,
            ExecError::Template { message, .. } => message,
            ExecError::NotDefined { .. } => "template not defined",
        }
    }
}

/// How a function reports a failure to the executor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FuncError {
    /// The call failed: reported as `error calling <name>: <message>` at the call.
    #[error("{0}")]
    Failed(String),
    /// A template the function ran failed (Helm's `include`): reported as
    /// `error calling <name>: <the error>`, keeping the error for Helm's traceback.
    #[error("{0}")]
    Exec(Box<ExecError>),
    /// Argument `index` (0-based, the piped value counting last) has a type the function's Go
    /// signature does not accept: reported at that argument as Go's
    /// `wrong type for value; expected <expected>; got <got>`.
    #[error("wrong type for value; expected {expected}; got {got}")]
    ArgType {
        /// Which argument.
        index: usize,
        /// The Go type wanted.
        expected: String,
        /// The Go type given.
        got: String,
    },
}

impl From<ExecError> for FuncError {
    fn from(e: ExecError) -> FuncError {
        FuncError::Exec(Box::new(e))
    }
}

impl From<String> for FuncError {
    fn from(s: String) -> FuncError {
        FuncError::Failed(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> FuncError {
        FuncError::Failed(s.to_owned())
    }
}

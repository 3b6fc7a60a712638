//! Go's `text/template`, with Go's syntax, semantics and error messages, as Helm uses it.
//!
//! A [`Templates`] set holds named templates: each [`Templates::parse`] adds a source under its
//! name plus every `define`/`block` in it (a later non-empty definition replaces an earlier one,
//! as in Go). [`Templates::execute`] runs one by name over a [`Value`] dot with
//! `missingkey=zero`. Functions come from a [`Funcs`] registry fixed when the set is made,
//! because Go checks function names at parse time.
//!
//! Modules: `lex` (items), `parse` (trees, parse-time checks) over `ast` and `literal`, `exec`
//! (walking the tree, with `exec::eval` for pipelines, fields and calls), `value` (Go-like
//! values), `fmt` (Go's printing, `fmt::float` for numbers), `builtins` (Go's functions),
//! `funcs` (the registry), `locate` (node text for messages), `error`.
//!
//! # Caveats
//!
//! Where this differs from Go: `%#v` prints as `%v`; complex numbers (`1i`) are refused as
//! illegal number syntax; a `\x80`-style escape above ASCII in a string literal becomes U+FFFD
//! (Go keeps the raw byte); `call` has no function values to call (none exist in Helm's data);
//! Go's builtin `slice` is here but Helm replaces it with Sprig's; delimiters are always
//! `{{`/`}}`; nesting of templates stops at [`Limits::max_depth`] (Go allows 100000).

mod ast;
mod builtins;
mod error;
mod exec;
mod fmt;
mod funcs;
mod lex;
mod literal;
mod locate;
mod parse;
mod value;

use std::collections::HashMap;
use std::rc::Rc;

pub use error::{ExecError, FuncError, Located, ParseError};
pub use exec::{FuncContext, Limits, TextError};
pub use fmt::{format_v, quote, sprint, sprintf, sprintln};
pub use funcs::{FuncImpl, Funcs, Function};
pub(crate) use value::deep;
pub use value::{Arity, IntType, List, ListType, MAX_VALUE_DEPTH, Map, MapType, Object, Value};

use ast::Tree;

/// A set of named templates sharing one function registry.
#[derive(Debug, Clone)]
pub struct Templates {
    name: String,
    trees: HashMap<String, Rc<Tree>>,
    funcs: Funcs,
    limits: Limits,
}

impl Templates {
    /// An empty set named `name` (the name Go reports for undefined templates), with the
    /// functions `funcs`.
    #[must_use]
    pub fn new(name: &str, funcs: Funcs) -> Templates {
        Templates {
            name: name.to_owned(),
            trees: HashMap::new(),
            funcs,
            limits: Limits::default(),
        }
    }

    /// The same set with other execution limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Templates {
        self.limits = limits;
        self
    }

    /// The set's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The execution limits.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The function registry.
    #[must_use]
    pub fn funcs(&self) -> &Funcs {
        &self.funcs
    }

    /// Whether a template `name` is defined.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    pub(crate) fn tree(&self, name: &str) -> Option<Rc<Tree>> {
        self.trees.get(name).cloned()
    }

    /// Parses `text` as the template `name`, adding it and its `define`s to the set. Nothing
    /// is added when it fails.
    ///
    /// # Errors
    ///
    /// Go's parse error: `template: <name>:<line>: <message>`.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        self.parse_main(name, text).map(|_| ())
    }

    /// As [`Templates::parse`], returning the tree of `text` itself (outside its `define`s),
    /// even when Go's rule kept an earlier non-empty template of that name in the set: Go's
    /// `t.New(name).Parse(text)` then `t.Execute` runs this tree, which is what Helm's `tpl` does.
    pub(crate) fn parse_main(&mut self, name: &str, text: &str) -> Result<Rc<Tree>, ParseError> {
        let trees = self.parse_detached(name, text)?;
        self.install(name, trees).ok_or_else(|| ParseError {
            name: name.to_owned(),
            line: 1,
            message: "the text produced no template".to_owned(),
        })
    }

    /// Parses `text` as the template `name` without adding anything to the set.
    pub(crate) fn parse_detached(&self, name: &str, text: &str) -> Result<Vec<Tree>, ParseError> {
        let funcs = &self.funcs;
        parse::parse(name, text, &|f| funcs.contains(f))
    }

    /// Adds parsed trees to the set by Go's rules and returns the tree of the text itself.
    pub(crate) fn install(&mut self, name: &str, trees: Vec<Tree>) -> Option<Rc<Tree>> {
        let mut main = None;
        for tree in trees {
            let tree = Rc::new(tree);
            if tree.name == name {
                main = Some(Rc::clone(&tree));
            }
            // Go's rule: an empty body never replaces an existing definition.
            if self.trees.contains_key(&tree.name) && ast::is_empty_list(&tree.root) {
                continue;
            }
            self.trees.insert(tree.name.clone(), tree);
        }
        // The parser always adds the text's own tree under `name`.
        main
    }

    /// Runs the template `name` with `dot`, appending its output to `out` (nothing is appended
    /// when it fails).
    ///
    /// # Errors
    ///
    /// The template is not defined, or fails as Go's executor would, with Go's message.
    pub fn execute(&self, name: &str, dot: &Value, out: &mut String) -> Result<(), ExecError> {
        let Some(tree) = self.tree(name) else {
            return Err(ExecError::NotDefined {
                name: name.to_owned(),
                set: self.name.clone(),
            });
        };
        let budget = exec::Shared::new(self.limits);
        let text = exec::run(self, &tree, dot.clone(), 0, &budget)?;
        out.push_str(&text);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

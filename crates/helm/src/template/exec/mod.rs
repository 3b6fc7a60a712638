//! The executor: walks a parsed tree with a dot value and writes the output, with Go's
//! semantics (`missingkey=zero`, as Helm runs templates).
//!
//! - **Scopes.** `$` is the dot a template was started with. Variables declared in an `if`,
//!   `with` or `range` pipeline or body live until its `{{end}}`; each `range` iteration starts
//!   the body afresh; `{{template}}` (and `include`) start with only `$`.
//! - **Nil and missing.** A missing key of an `interface {}` map is a nil interface: printing it
//!   in a function gives `<nil>`, a field of it fails with `nil pointer evaluating interface {}.x`.
//!   A pipeline's nil result is Go's invalid value: printed as `<no value>`, fields of it are
//!   silently nothing.
//! - **Limits.** Nesting of `template`/`include` calls and the output size are capped
//!   ([`Limits`]); past them execution fails with a named error instead of exhausting the stack
//!   or memory.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

mod eval;

use super::Templates;
use super::ast::{Arg, Branch, ListNode, Node, Pipe, Tree};
use super::error::{ExecError, Located, ParseError};
use super::locate::{Tag, context};
use super::value::{ListType, Value};

/// Caps on one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How deeply `{{template}}` and function-driven executions (`include`, `tpl`) may nest.
    /// The default, 1100, lets Helm's own `include` limit (1000 nested calls of one name) speak
    /// first.
    pub max_depth: usize,
    /// How many bytes of output all templates of one execution may write together.
    pub max_output: usize,
    /// How many nodes (and `range` iterations) one execution may run: a bound on its time
    /// however little it writes (`range` nested in `range` over `until` writes nothing and
    /// would otherwise spin for hours). The default is 50 million; every chart of the shared
    /// corpus renders within it (its test runs them with the default).
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 1100,
            max_output: 64 * 1024 * 1024,
            max_steps: 50_000_000,
        }
    }
}

/// What a function sees of the execution that called it.
pub struct FuncContext<'a> {
    set: &'a Templates,
    depth: usize,
    budget: &'a Shared,
}

impl FuncContext<'_> {
    /// Runs the template `name` with `dot` as a nested execution (as Helm's `include` does) and
    /// returns its output.
    ///
    /// # Errors
    ///
    /// The template is not defined, nests too deeply, or fails.
    pub fn execute_template(&self, name: &str, dot: Value) -> Result<String, ExecError> {
        let Some(tree) = self.set.tree(name) else {
            return Err(ExecError::NotDefined {
                name: name.to_owned(),
                set: self.set.name().to_owned(),
            });
        };
        if self.depth >= self.set.limits().max_depth {
            return Err(ExecError::Template {
                template: name.to_owned(),
                message: format!(
                    "exceeded maximum template depth ({})",
                    self.set.limits().max_depth
                ),
            });
        }
        grow(|| run(self.set, &tree, dot, self.depth + 1, self.budget))
    }

    /// Parses `text` as the template `name` into a copy of the set being executed (so its
    /// `define`s are visible only there) and runs it with `dot`, as a nested execution (Helm's
    /// `tpl`).
    ///
    /// # Errors
    ///
    /// The text does not parse, nests too deeply, or fails.
    pub fn execute_text(&self, name: &str, text: &str, dot: Value) -> Result<String, TextError> {
        let trees = self
            .set
            .parse_detached(name, text)
            .map_err(TextError::Parse)?;
        let max_depth = self.set.limits().max_depth;
        if self.depth >= max_depth {
            return Err(TextError::Exec(ExecError::Template {
                template: name.to_owned(),
                message: format!("exceeded maximum template depth ({max_depth})"),
            }));
        }
        // Most texts define nothing and call no template: they run against the set as it is.
        // Otherwise they run in a copy of the set holding their definitions, as Helm's `tpl`
        // clones its template set.
        let mut trees = trees;
        if trees.len() == 1
            && !text.contains("template")
            && let Some(tree) = trees.pop()
        {
            let tree = Rc::new(tree);
            return grow(|| run(self.set, &tree, dot, self.depth + 1, self.budget))
                .map_err(TextError::Exec);
        }
        let mut set = self.set.clone();
        let Some(tree) = set.install(name, trees) else {
            return Ok(String::new());
        };
        grow(|| run(&set, &tree, dot, self.depth + 1, self.budget)).map_err(TextError::Exec)
    }

    /// Counts one more level of the execution-wide nesting counter `key` and returns how many
    /// levels were open before: functions use it for their own nesting limits (Helm's `include`
    /// refuses a name nested more than 1000 deep). Pair each call with [`FuncContext::leave`].
    #[must_use]
    pub fn enter(&self, key: &str) -> usize {
        let mut counters = self.budget.counters.borrow_mut();
        let slot = counters.entry(key.to_owned()).or_insert(0);
        *slot += 1;
        *slot - 1
    }

    /// Closes one level of the counter `key` opened by [`FuncContext::enter`].
    pub fn leave(&self, key: &str) {
        if let Some(slot) = self.budget.counters.borrow_mut().get_mut(key) {
            *slot = slot.saturating_sub(1);
        }
    }

    /// The template set being executed.
    #[must_use]
    pub fn templates(&self) -> &Templates {
        self.set
    }

    /// How deeply nested this call is (0 for the outermost template).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth
    }
}

/// Why [`FuncContext::execute_text`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(ParseError),
    /// Running it failed.
    #[error(transparent)]
    Exec(ExecError),
}

/// What all the nested executions of one [`Templates::execute`] share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Bytes of output still allowed.
    pub(crate) output_left: Cell<usize>,
    /// Steps still allowed (see [`Limits::max_steps`]).
    steps_left: Cell<u64>,
    /// Counters functions keep across the execution (Helm's `include` counts nesting per name).
    counters: RefCell<HashMap<String, usize>>,
}

impl Shared {
    pub(crate) fn new(limits: Limits) -> Shared {
        Shared {
            output_left: Cell::new(limits.max_output),
            steps_left: Cell::new(limits.max_steps),
            counters: RefCell::default(),
        }
    }
}

/// Runs `f` with at least 256 KiB of stack left, moving to a new heap-allocated segment when
/// the current stack is nearly used up: nested executions recurse deeply.
fn grow<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(256 * 1024, 2 * 1024 * 1024, f)
}

/// Executes `tree` with `dot`, returning its output.
pub(crate) fn run(
    set: &Templates,
    tree: &Rc<Tree>,
    dot: Value,
    depth: usize,
    budget: &Shared,
) -> Result<String, ExecError> {
    let mut s = State {
        set,
        vars: vec![Var {
            name: "$".to_owned(),
            value: Dot {
                value: dot.clone(),
                iface: false,
            },
        }],
        tree: Rc::clone(tree),
        out: String::new(),
        depth,
        budget,
        at: (0, Tag::Action),
    };
    s.walk_list(
        &Dot {
            value: dot,
            iface: false,
        },
        &tree.root,
    )?;
    Ok(s.out)
}

/// A value together with whether its static Go type is `interface {}` (it came out of an
/// `interface {}` map or slice), which Go's messages name.
#[derive(Clone)]
struct Dot {
    value: Value,
    iface: bool,
}

struct Var {
    name: String,
    value: Dot,
}

#[derive(PartialEq, Eq)]
enum Ctl {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, ExecError>;

struct State<'a> {
    set: &'a Templates,
    vars: Vec<Var>,
    tree: Rc<Tree>,
    out: String,
    depth: usize,
    budget: &'a Shared,
    at: (usize, Tag),
}

impl State<'_> {
    fn error(&self, message: String) -> ExecError {
        self.error_fn(message, None)
    }

    fn error_fn(&self, message: String, function: Option<String>) -> ExecError {
        let (pos, tag) = self.at;
        ExecError::At(Box::new(Located {
            location: self.tree.location(pos),
            template: self.tree.name.clone(),
            context: context(&self.tree, pos, tag),
            message,
            function,
            cause: None,
        }))
    }

    fn at_arg(&mut self, arg: &Arg) {
        self.at = match arg {
            Arg::Pipe(p) => (p.pos, Tag::Pipe),
            other => (other.pos(), Tag::Arg),
        };
    }

    fn write(&mut self, text: &str) -> R<()> {
        let left = self.budget.output_left.get();
        if text.len() > left {
            return Err(self.error(format!(
                "output exceeds the limit of {} bytes",
                self.set.limits().max_output
            )));
        }
        self.budget.output_left.set(left - text.len());
        self.out.push_str(text);
        Ok(())
    }

    /// Counts one step against [`Limits::max_steps`].
    fn step(&mut self) -> R<()> {
        let left = self.budget.steps_left.get();
        if left == 0 {
            return Err(self.error(format!(
                "execution exceeds the limit of {} steps (a loop that never ends, or nested loops over huge ranges)",
                self.set.limits().max_steps
            )));
        }
        self.budget.steps_left.set(left - 1);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Dot, list: &ListNode) -> R<Ctl> {
        for node in &list.nodes {
            let ctl = self.walk(dot, node)?;
            if ctl != Ctl::Normal {
                return Ok(ctl);
            }
        }
        Ok(Ctl::Normal)
    }

    fn walk(&mut self, dot: &Dot, node: &Node) -> R<Ctl> {
        self.step()?;
        match node {
            Node::Text { text } => self.write(text)?,
            Node::Action { pos, pipe } => {
                self.at = (*pos, Tag::Action);
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = (*pos, Tag::Action);
                    let text = match v {
                        Value::Invalid => "<no value>".to_owned(),
                        Value::Object(o) => o.format_action(),
                        other => super::fmt::format_v(&other),
                    };
                    self.write(&text)?;
                }
            }
            Node::If(b) => return self.walk_if_with(dot, b, false),
            Node::With(b) => return self.walk_if_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_ref())?;
            }
            Node::Break => return Ok(Ctl::Break),
            Node::Continue => return Ok(Ctl::Continue),
        }
        Ok(Ctl::Normal)
    }

    fn walk_if_with(&mut self, dot: &Dot, b: &Branch, with: bool) -> R<Ctl> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let ctl = if val.is_true() {
            if with {
                self.walk_list(
                    &Dot {
                        value: val,
                        iface: false,
                    },
                    &b.list,
                )?
            } else {
                self.walk_list(dot, &b.list)?
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?
        } else {
            Ctl::Normal
        };
        self.vars.truncate(mark);
        Ok(ctl)
    }

    fn walk_range(&mut self, dot: &Dot, b: &Branch) -> R<Ctl> {
        self.at = (b.pos, Tag::Range);
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?.underlying();
        let body_mark = self.vars.len();
        let mut ran = false;
        match &val {
            Value::List(l) => {
                let iface = l.list_type() == ListType::Any;
                for (i, item) in l.items().iter().enumerate() {
                    ran = true;
                    let index = Value::int(i64::try_from(i).unwrap_or(i64::MAX));
                    let elem = Dot {
                        value: item.clone(),
                        iface,
                    };
                    if self.range_once(b, body_mark, index, &elem)? == Ctl::Break {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                let iface = m.holds_interfaces();
                for (k, v) in m.entries() {
                    ran = true;
                    if self.range_once(b, body_mark, Value::from(k), &Dot { value: v, iface })?
                        == Ctl::Break
                    {
                        break;
                    }
                }
            }
            Value::Int(n, t) => {
                if b.pipe.decl.len() > 1 {
                    let shown = super::fmt::format_v(&val);
                    return Err(self.error(format!(
                        "can't use {shown} to iterate over more than one variable"
                    )));
                }
                for i in 0..*n {
                    ran = true;
                    let v = Value::Int(i, *t);
                    if self.range_once(
                        b,
                        body_mark,
                        v.clone(),
                        &Dot {
                            value: v,
                            iface: false,
                        },
                    )? == Ctl::Break
                    {
                        break;
                    }
                }
            }
            Value::Invalid | Value::Nil => {}
            other => {
                let shown = super::fmt::format_v(other);
                return Err(self.error(format!("range can't iterate over {shown}")));
            }
        }
        if !ran && let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        self.vars.truncate(mark);
        Ok(Ctl::Normal)
    }

    fn range_once(&mut self, b: &Branch, body_mark: usize, index: Value, elem: &Dot) -> R<Ctl> {
        self.step()?;
        let decl = &b.pipe.decl;
        if let Some(first) = decl.first() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(
                        first,
                        Dot {
                            value: index.clone(),
                            iface: false,
                        },
                    )?;
                } else {
                    self.set_var(first, elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if let Some(second) = decl.get(1) {
            if b.pipe.is_assign {
                self.set_var(second, elem.clone())?;
            } else {
                self.set_top_var(
                    2,
                    Dot {
                        value: index,
                        iface: false,
                    },
                );
            }
        }
        let ctl = self.walk_list(elem, &b.list)?;
        self.vars.truncate(body_mark);
        Ok(ctl)
    }

    fn walk_template(&mut self, dot: &Dot, pos: usize, name: &str, pipe: Option<&Pipe>) -> R<()> {
        self.at = (pos, Tag::Template);
        let Some(tree) = self.set.tree(name) else {
            return Err(self.error(format!(
                "template {} not defined",
                super::fmt::quote(name, false)
            )));
        };
        if self.depth >= self.set.limits().max_depth {
            return Err(self.error(format!(
                "exceeded maximum template depth ({})",
                self.set.limits().max_depth
            )));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Invalid,
        };
        let mut child = State {
            set: self.set,
            vars: vec![Var {
                name: "$".to_owned(),
                value: Dot {
                    value: new_dot.clone(),
                    iface: false,
                },
            }],
            tree: Rc::clone(&tree),
            out: std::mem::take(&mut self.out),
            depth: self.depth + 1,
            budget: self.budget,
            at: (0, Tag::Action),
        };
        let new_dot = Dot {
            value: new_dot,
            iface: false,
        };
        let result = grow(|| child.walk_list(&new_dot, &tree.root));
        self.out = std::mem::take(&mut child.out);
        result.map(|_| ())
    }

    fn push(&mut self, name: &str, value: Dot) {
        self.vars.push(Var {
            name: name.to_owned(),
            value,
        });
    }

    fn set_var(&mut self, name: &str, value: Dot) -> R<()> {
        if let Some(v) = self.vars.iter_mut().rev().find(|v| v.name == name) {
            v.value = value;
            return Ok(());
        }
        Err(self.error(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, value: Dot) {
        let len = self.vars.len();
        if let Some(v) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            v.value = value;
        }
    }

    fn var_value(&self, name: &str) -> R<Dot> {
        match self.vars.iter().rev().find(|v| v.name == name) {
            Some(v) => Ok(v.value.clone()),
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }
}

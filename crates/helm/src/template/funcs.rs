//! The function registry: named functions a template can call, each with Go's arity and an
//! implementation that receives the execution context (so `include` and `tpl` can run templates)
//! and its evaluated arguments.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::error::FuncError;
use super::exec::FuncContext;
use super::value::{Arity, Value};

/// A function's implementation: the execution context and the arguments (the piped value, if
/// any, last), returning the result or a failure.
pub type FuncImpl = dyn Fn(&FuncContext<'_>, &[Value]) -> Result<Value, FuncError>;

/// Evaluation rules the executor applies instead of a plain call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// A plain function.
    None,
    /// Go's `and`: arguments evaluated left to right, stopping at the first false one.
    And,
    /// Go's `or`: stopping at the first true one.
    Or,
    /// Go's `call`: the executor reports the callee by its node text.
    Call,
    /// A plain function whose Go parameters are `reflect.Value`s: invalid arguments stay
    /// invalid instead of becoming nil interfaces.
    Raw,
}

/// A registered function.
#[derive(Clone)]
pub struct Function {
    pub(crate) arity: Arity,
    pub(crate) imp: Rc<FuncImpl>,
    pub(crate) special: Special,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("arity", &self.arity)
            .field("special", &self.special)
            .finish_non_exhaustive()
    }
}

/// Functions by name. Templates are checked against it when parsed (an unknown name is a
/// parse error, as in Go) and call into it when executed.
#[derive(Clone, Debug, Default)]
pub struct Funcs {
    map: HashMap<String, Function>,
}

impl Funcs {
    /// An empty registry (not even Go's builtins).
    #[must_use]
    pub fn empty() -> Funcs {
        Funcs::default()
    }

    /// Go's builtin functions: `and or not len index slice print printf println html js
    /// urlquery eq ne lt le gt ge call`.
    #[must_use]
    pub fn builtins() -> Funcs {
        let mut f = Funcs::default();
        super::builtins::register(&mut f);
        f
    }

    /// Registers (or replaces) `name`.
    pub fn insert<F>(&mut self, name: &str, arity: Arity, imp: F)
    where
        F: Fn(&FuncContext<'_>, &[Value]) -> Result<Value, FuncError> + 'static,
    {
        self.put(name, arity, Rc::new(imp), Special::None);
    }

    pub(crate) fn insert_raw<F>(&mut self, name: &str, arity: Arity, imp: F)
    where
        F: Fn(&FuncContext<'_>, &[Value]) -> Result<Value, FuncError> + 'static,
    {
        self.put(name, arity, Rc::new(imp), Special::Raw);
    }

    pub(crate) fn insert_special(&mut self, name: &str, arity: Arity, special: Special) {
        let imp: Rc<FuncImpl> =
            Rc::new(|_, args: &[Value]| Ok(args.last().cloned().unwrap_or(Value::Invalid)));
        self.put(name, arity, imp, special);
    }

    fn put(&mut self, name: &str, arity: Arity, imp: Rc<FuncImpl>, special: Special) {
        self.map.insert(
            name.to_owned(),
            Function {
                arity,
                imp,
                special,
            },
        );
    }

    /// Registers `name` as another name of the function `existing` (Sprig's `tuple` is `list`);
    /// false when `existing` is not registered.
    pub fn alias(&mut self, name: &str, existing: &str) -> bool {
        match self.map.get(existing).cloned() {
            Some(f) => {
                self.map.insert(name.to_owned(), f);
                true
            }
            None => false,
        }
    }

    /// The function registered as `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Function> {
        self.map.get(name)
    }

    /// Whether `name` is registered.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

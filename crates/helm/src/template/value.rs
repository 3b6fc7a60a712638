//! The values a template works on, shaped like the Go values Helm hands to `text/template`.
//!
//! Go's templates see values through reflection, so two things matter beyond the data itself:
//! - **Type identity.** `printf "%T"`, `typeOf` and comparisons observe Go's types: a YAML number
//!   is a `float64`, a template literal an `int`, a Sprig result often an `int64`. Each variant
//!   keeps enough to name its Go type exactly.
//! - **Reference semantics of maps.** Sprig's `set`, `unset` and `merge` change a map in place,
//!   and every alias of that map (a variable, `.Values`, a parent's values) sees the change. Maps
//!   are therefore shared, mutable cells. Lists are never mutated in place by any function Helm
//!   exposes (`append` returns a new list), so they are shared but immutable.
//!
//! Go also distinguishes a nil *interface* (what a map of `interface {}` holds for a missing key
//! or a YAML `null`) from the *invalid* value (what a pipeline yields when its result is nil).
//! Field access on the first is an error, on the second it silently gives nothing; printing the
//! first inside a function gives `<nil>`, printing the second as an action gives `<no value>`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::error::FuncError;

/// How deeply values may nest for the functions that walk them (printing, `toYaml`,
/// `deepCopy`, ...): a map that contains itself (`set $d "self" $d`) stops there instead of
/// recursing forever.
pub const MAX_VALUE_DEPTH: usize = 1000;

/// Runs `f` on a fresh stack segment when the current one is nearly used up, for recursion
/// over nested values.
pub(crate) fn deep<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// A template value.
#[derive(Clone)]
pub enum Value {
    /// Go's invalid `reflect.Value`: the result of a pipeline that produced nil, or of a field
    /// chain through nothing. Printed by an action as `<no value>`.
    Invalid,
    /// A nil `interface {}`: a YAML `null`, a missing key of an `interface {}` map, the `nil`
    /// literal as an argument.
    Nil,
    /// A Go `bool`.
    Bool(bool),
    /// A Go signed or small unsigned integer, with its exact type.
    Int(i64, IntType),
    /// A Go `float64`.
    Float(f64),
    /// A Go `string`.
    String(Rc<str>),
    /// A Go slice.
    List(List),
    /// A Go map with string keys.
    Map(Map),
    /// A Go struct or other typed object with fields and methods (`.Files`, `.Capabilities`).
    Object(Rc<dyn Object>),
}

/// The Go integer types a value can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntType {
    /// `int`: template literals, `len`, range indexes.
    Int,
    /// `int64`: Sprig's arithmetic, `--set` numbers.
    Int64,
    /// `int32` (a `rune`).
    Int32,
    /// `uint8` (a `byte`, as indexing a string gives).
    Uint8,
    /// `uint64` (semver's version parts).
    Uint64,
}

impl IntType {
    /// The Go name of the type.
    #[must_use]
    pub fn go_name(self) -> &'static str {
        match self {
            IntType::Int => "int",
            IntType::Int64 => "int64",
            IntType::Int32 => "int32",
            IntType::Uint8 => "uint8",
            IntType::Uint64 => "uint64",
        }
    }
}

/// The element type of a Go slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// `[]interface {}`.
    Any,
    /// `[]string`.
    String,
    /// `[]int` (Sprig's `until`).
    Int,
}

/// A Go slice: shared, never mutated in place.
#[derive(Clone)]
pub struct List {
    items: Rc<Vec<Value>>,
    ty: ListType,
}

impl List {
    /// A `[]interface {}` holding `items`.
    #[must_use]
    pub fn new(items: Vec<Value>) -> List {
        List {
            items: Rc::new(items),
            ty: ListType::Any,
        }
    }

    /// A slice of the given element type.
    #[must_use]
    pub fn typed(items: Vec<Value>, ty: ListType) -> List {
        List {
            items: Rc::new(items),
            ty,
        }
    }

    /// The elements.
    #[must_use]
    pub fn items(&self) -> &[Value] {
        &self.items
    }

    /// The element type.
    #[must_use]
    pub fn list_type(&self) -> ListType {
        self.ty
    }
}

/// The Go type of a map (all have string keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// `map[string]interface {}`.
    Any,
    /// `map[string]string`.
    String,
    /// Helm's `common.Values` (a named `map[string]interface {}`).
    Values,
}

impl MapType {
    /// The Go name of the type.
    #[must_use]
    pub fn go_name(self) -> &'static str {
        match self {
            MapType::Any => "map[string]interface {}",
            MapType::String => "map[string]string",
            MapType::Values => "common.Values",
        }
    }
}

/// A Go map: a shared, mutable cell, so every alias sees a change. Keys iterate in byte order,
/// which is the order Go's `range` and `fmt` use.
#[derive(Clone)]
pub struct Map {
    entries: Rc<RefCell<BTreeMap<String, Value>>>,
    ty: MapType,
    /// A Go nil map: reads as empty, but JSON (`toJson`, `toYaml`) writes it as `null`.
    nil: bool,
}

impl Map {
    /// A new `map[string]interface {}`.
    #[must_use]
    pub fn new(entries: BTreeMap<String, Value>) -> Map {
        Map::typed(entries, MapType::Any)
    }

    /// A new map of the given Go type.
    #[must_use]
    pub fn typed(entries: BTreeMap<String, Value>, ty: MapType) -> Map {
        Map {
            entries: Rc::new(RefCell::new(entries)),
            ty,
            nil: false,
        }
    }

    /// A Go nil map of the given type (such as `.Chart.Annotations` when `Chart.yaml` has
    /// none): empty to every reader, `null` in JSON.
    #[must_use]
    pub fn nil(ty: MapType) -> Map {
        Map {
            nil: true,
            ..Map::typed(BTreeMap::new(), ty)
        }
    }

    /// Whether this is a Go nil map (see [`Map::nil`]).
    #[must_use]
    pub fn is_nil_map(&self) -> bool {
        self.nil
    }

    /// The Go type.
    #[must_use]
    pub fn map_type(&self) -> MapType {
        self.ty
    }

    /// The value under `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries.borrow().get(key).cloned()
    }

    /// The value under `key` as Go's `missingkey=zero` gives it: the element type's zero value
    /// when the key is absent.
    #[must_use]
    pub fn get_or_zero(&self, key: &str) -> Value {
        match self.get(key) {
            Some(v) => v,
            None => self.zero_element(),
        }
    }

    /// The zero value of the element type.
    #[must_use]
    pub fn zero_element(&self) -> Value {
        match self.ty {
            MapType::String => Value::String(Rc::from("")),
            MapType::Any | MapType::Values => Value::Nil,
        }
    }

    /// Whether the elements are `interface {}` (so a value read from it has that static type).
    #[must_use]
    pub fn holds_interfaces(&self) -> bool {
        self.ty != MapType::String
    }

    /// Sets `key` to `value`, in place: every alias of this map sees it.
    pub fn insert(&self, key: String, value: Value) {
        self.entries.borrow_mut().insert(key, value);
    }

    /// Removes `key`, in place.
    pub fn remove(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether the map has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// A snapshot of the entries in key order (later changes to the map do not show in it).
    #[must_use]
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.entries
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The same map (shared, not copied) seen as another Go type, as Helm's `Values.Table`
    /// turns a `map[string]interface {}` into `common.Values`.
    #[must_use]
    pub fn retyped(&self, ty: MapType) -> Map {
        Map {
            entries: Rc::clone(&self.entries),
            ty,
            nil: self.nil,
        }
    }

    /// Whether both are the same map (aliases).
    #[must_use]
    pub fn same(&self, other: &Map) -> bool {
        Rc::ptr_eq(&self.entries, &other.entries)
    }
}

/// How many arguments a function or method takes, as Go's signature says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// At least this many (a variadic Go function with this many fixed parameters).
    AtLeast(usize),
}

impl Arity {
    /// Whether `n` arguments fit.
    #[must_use]
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::AtLeast(k) => n >= k,
        }
    }
}

/// A typed Go object reached by field and method names: a struct such as Helm's `.Files` or
/// `.Capabilities`.
pub trait Object {
    /// The Go type name, as `%T` prints it (for example `common.Capabilities`).
    fn type_name(&self) -> String;

    /// The field `name`, if the struct has one.
    fn field(&self, name: &str) -> Option<Value>;

    /// The arity of the method `name`, if there is one. Methods win over fields, as in Go.
    fn method_arity(&self, name: &str) -> Option<Arity> {
        let _ = name;
        None
    }

    /// Calls the method `name` (its arity already checked).
    ///
    /// # Errors
    ///
    /// The method's own failure (reported as `error calling <name>: ...`), or an argument of
    /// the wrong type.
    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let _ = args;
        Err(FuncError::Failed(format!(
            "{} has no method {name}",
            self.type_name()
        )))
    }

    /// The Go value underneath, for a named slice or map type with methods (Helm's
    /// `common.VersionSet` is a `[]string`): `range`, `len`, `index` and truth use it.
    fn underlying(&self) -> Option<Value> {
        None
    }

    /// The value as `%v` prints it: the `String()` method's result where Go has one, otherwise
    /// the struct form `{field1 field2}`.
    fn format(&self) -> String;

    /// What an action prints for the value: Go uses a `String()` method with a pointer receiver
    /// there (the value is addressable) but not in `printf`. The same as [`Object::format`]
    /// unless the type has such a method.
    fn format_action(&self) -> String {
        self.format()
    }
}

impl Value {
    /// A Go string.
    #[must_use]
    pub fn str(s: &str) -> Value {
        Value::String(Rc::from(s))
    }

    /// A Go `int`.
    #[must_use]
    pub fn int(i: i64) -> Value {
        Value::Int(i, IntType::Int)
    }

    /// The Go type name, as `%T` prints it (`<nil>` for nil and invalid values).
    #[must_use]
    pub fn type_name(&self) -> String {
        match self {
            Value::Invalid | Value::Nil => "<nil>".to_owned(),
            Value::Bool(_) => "bool".to_owned(),
            Value::Int(_, t) => t.go_name().to_owned(),
            Value::Float(_) => "float64".to_owned(),
            Value::String(_) => "string".to_owned(),
            Value::List(l) => match l.ty {
                ListType::Any => "[]interface {}".to_owned(),
                ListType::String => "[]string".to_owned(),
                ListType::Int => "[]int".to_owned(),
            },
            Value::Map(m) => m.ty.go_name().to_owned(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's truth of a value, as `if`, `with`, `and`, `or` and `not` see it: false for nil,
    /// zero numbers, `false` and empty strings, lists and maps; structs are always true.
    #[must_use]
    pub fn is_true(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.underlying().is_none_or(|v| v.is_true()),
        }
    }

    /// For a named slice or map type with methods, the slice or map underneath; otherwise the
    /// value itself.
    #[must_use]
    pub fn underlying(&self) -> Value {
        match self {
            Value::Object(o) => o.underlying().unwrap_or_else(|| self.clone()),
            other => other.clone(),
        }
    }

    /// Whether this is nil or invalid (no value at all).
    #[must_use]
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Invalid | Value::Nil)
    }

    /// The string, when this is a Go string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Turns a nil interface into the invalid value, as Go does with each pipeline's result.
    #[must_use]
    pub fn unwrap_interface(self) -> Value {
        match self {
            Value::Nil => Value::Invalid,
            other => other,
        }
    }

    /// Turns the invalid value into a nil interface, as Go does when passing it to a parameter
    /// of type `interface {}`.
    #[must_use]
    pub fn into_interface(self) -> Value {
        match self {
            Value::Invalid => Value::Nil,
            other => other,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.type_name(), super::fmt::format_v(self))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Rc::from(s))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Map(m)
    }
}

impl From<List> for Value {
    fn from(l: List) -> Value {
        Value::List(l)
    }
}

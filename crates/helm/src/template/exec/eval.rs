//! Evaluating pipelines, commands, fields, methods and function calls: what each operand
//! yields, Go's argument conversions and the messages of a failed call.

use std::rc::Rc;

use super::{Dot, FuncContext, R, State};
use crate::template::ast::{Arg, Command, Number, Pipe};
use crate::template::error::{ExecError, FuncError};
use crate::template::funcs::Special;
use crate::template::locate::Tag;
use crate::template::value::{Arity, IntType, Value};

/// A number literal as Go passes it to a parameter of Go type `ty`, when its text allows.
fn literal_as(n: &Number, ty: &str) -> Option<Value> {
    match ty {
        "int" => n.int.map(Value::int),
        "int64" => n.int.map(|i| Value::Int(i, IntType::Int64)),
        "float64" => n.float.map(Value::Float),
        _ => None,
    }
}

fn is_hex_int(s: &str) -> bool {
    s.len() > 2 && (s.starts_with("0x") || s.starts_with("0X")) && !s.contains(['p', 'P'])
}

impl State<'_> {
    pub(super) fn eval_pipeline(&mut self, dot: &Dot, pipe: &Pipe) -> R<Value> {
        self.at = (pipe.pos, Tag::Pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?.unwrap_interface());
        }
        let value = value.unwrap_or(Value::Invalid);
        for name in &pipe.decl {
            let d = Dot {
                value: value.clone(),
                iface: false,
            };
            if pipe.is_assign {
                self.set_var(name, d)?;
            } else {
                self.push(name, d);
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: Option<&Value>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            let first = args.first().map(ToString::to_string).unwrap_or_default();
            return Err(self.error(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Dot, cmd: &Command, final_: Option<Value>) -> R<Value> {
        let Some(first) = cmd.args.first() else {
            return Ok(Value::Invalid);
        };
        match first {
            Arg::Field { pos, idents } => {
                self.at = (*pos, Tag::Arg);
                return self.eval_field_chain(dot, dot.clone(), idents, &cmd.args, final_);
            }
            Arg::Chain { pos, node, fields } => {
                self.at = (*pos, Tag::Arg);
                return self.eval_chain(dot, first, node, fields, &cmd.args, final_);
            }
            Arg::Identifier { pos, name } => {
                return self.eval_function(
                    dot,
                    *pos,
                    name,
                    (cmd.pos, Tag::Command),
                    &cmd.args,
                    final_,
                );
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, final_.as_ref())?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { pos, idents } => {
                self.at = (*pos, Tag::Arg);
                return self.eval_variable(dot, idents, &cmd.args, final_);
            }
            _ => {}
        }
        self.at_arg(first);
        self.not_a_function(&cmd.args, final_.as_ref())?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.value.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command".to_owned())),
            Arg::Number { number, .. } => self.ideal_constant(number),
            Arg::String { value, .. } => Ok(Value::str(value)),
            _ => Err(self.error(format!(
                "can't evaluate command {}",
                crate::template::fmt::quote(&first.to_string(), false)
            ))),
        }
    }

    fn ideal_constant(&self, n: &Number) -> R<Value> {
        if let Some(f) = n.float
            && !is_hex_int(&n.text)
            && !n.is_char
            && n.text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::int(i));
        }
        if n.uint.is_some() {
            return Err(self.error(format!("{} overflows int", n.text)));
        }
        Ok(Value::Invalid)
    }

    fn eval_chain(
        &mut self,
        dot: &Dot,
        chain: &Arg,
        node: &Arg,
        fields: &[String],
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        if let Arg::Nil { .. } = node {
            return Err(self.error(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, node, true)?;
        self.at = (chain.pos(), Tag::Arg);
        self.eval_field_chain(
            dot,
            Dot {
                value: receiver,
                iface: false,
            },
            fields,
            args,
            final_,
        )
    }

    fn eval_variable(
        &mut self,
        dot: &Dot,
        idents: &[String],
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let Some((name, fields)) = idents.split_first() else {
            return Ok(Value::Invalid);
        };
        let value = self.var_value(name)?;
        if fields.is_empty() {
            self.not_a_function(args, final_.as_ref())?;
            return Ok(value.value);
        }
        self.eval_field_chain(dot, value, fields, args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Dot,
        receiver: Dot,
        idents: &[String],
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let Some((last, init)) = idents.split_last() else {
            return Ok(receiver.value);
        };
        let mut r = receiver;
        for ident in init {
            r = self.eval_field(dot, ident, &[], None, &r)?;
        }
        Ok(self.eval_field(dot, last, args, final_, &r)?.value)
    }

    fn eval_field(
        &mut self,
        dot: &Dot,
        name: &str,
        args: &[Arg],
        final_: Option<Value>,
        receiver: &Dot,
    ) -> R<Dot> {
        let has_args = args.len() > 1 || final_.is_some();
        let typ = if receiver.iface {
            "interface {}".to_owned()
        } else {
            receiver.value.type_name()
        };
        match &receiver.value {
            Value::Invalid => Ok(Dot {
                value: Value::Invalid,
                iface: false,
            }),
            Value::Nil => Err(self.error(format!("nil pointer evaluating interface {{}}.{name}"))),
            Value::Object(o) => {
                if let Some(arity) = o.method_arity(name) {
                    let at = self.at;
                    let o = Rc::clone(o);
                    let call_args = args.get(1..).unwrap_or_default();
                    self.check_arity(name, arity, call_args.len(), final_.is_some())?;
                    let call_values = self.eval_args(dot, call_args, final_, false)?;
                    self.at = at;
                    return match o.call_method(name, &call_values) {
                        Ok(v) => Ok(Dot {
                            value: v,
                            iface: false,
                        }),
                        Err(e) => Err(self.call_error(name, call_args, e)),
                    };
                }
                match o.field(name) {
                    Some(v) => {
                        if has_args {
                            return Err(self.error(format!(
                                "{name} has arguments but cannot be invoked as function"
                            )));
                        }
                        Ok(Dot {
                            value: v,
                            iface: false,
                        })
                    }
                    None => Err(self.error(format!("can't evaluate field {name} in type {typ}"))),
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                Ok(Dot {
                    value: m.get_or_zero(name),
                    iface: m.holds_interfaces(),
                })
            }
            _ => Err(self.error(format!("can't evaluate field {name} in type {typ}"))),
        }
    }

    fn check_arity(&self, name: &str, arity: Arity, nargs: usize, has_final: bool) -> R<()> {
        let num_in = nargs + usize::from(has_final);
        match arity {
            Arity::AtLeast(k) if num_in < k => Err(self.error(format!(
                "wrong number of args for {name}: want at least {k} got {nargs}"
            ))),
            Arity::Exact(k) if num_in != k => Err(self.error(format!(
                "wrong number of args for {name}: want {k} got {num_in}"
            ))),
            _ => Ok(()),
        }
    }

    /// Evaluates call arguments; `raw` keeps invalid values (Go's `reflect.Value` parameters),
    /// otherwise they become nil interfaces (Go's `interface {}` parameters).
    fn eval_args(
        &mut self,
        dot: &Dot,
        args: &[Arg],
        final_: Option<Value>,
        raw: bool,
    ) -> R<Vec<Value>> {
        let mut call_values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            call_values.push(self.eval_arg(dot, arg, raw)?);
        }
        if let Some(f) = final_ {
            call_values.push(if raw { f } else { f.into_interface() });
        }
        Ok(call_values)
    }

    fn eval_arg(&mut self, dot: &Dot, arg: &Arg, raw: bool) -> R<Value> {
        self.at_arg(arg);
        let v = match arg {
            Arg::Dot { .. } => dot.value.clone(),
            Arg::Nil { .. } => Value::Nil,
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot, dot.clone(), idents, std::slice::from_ref(arg), None)?
            }
            Arg::Variable { idents, .. } => self.eval_variable(dot, idents, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { pos, name } => self.eval_function(
                dot,
                *pos,
                name,
                (*pos, Tag::Arg),
                std::slice::from_ref(arg),
                None,
            )?,
            Arg::Chain { node, fields, .. } => {
                self.eval_chain(dot, arg, node, fields, &[], None)?
            }
            Arg::Bool { value, .. } => Value::Bool(*value),
            Arg::Number { number, .. } => self.ideal_constant(number)?,
            Arg::String { value, .. } => Value::str(value),
        };
        Ok(if raw { v } else { v.into_interface() })
    }

    fn eval_function(
        &mut self,
        dot: &Dot,
        pos: usize,
        name: &str,
        call_at: (usize, Tag),
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at = (pos, Tag::Arg);
        let Some(func) = self.set.funcs().get(name).cloned() else {
            return Err(self.error(format!(
                "{} is not a defined function",
                crate::template::fmt::quote(name, false)
            )));
        };
        let call_args = args.get(1..).unwrap_or_default();
        self.check_arity(name, func.arity, call_args.len(), final_.is_some())?;
        match func.special {
            Special::And | Special::Or => {
                let want = func.special == Special::Or;
                let mut v = Value::Invalid;
                for arg in call_args {
                    v = self.eval_arg(dot, arg, true)?;
                    if v.is_true() == want {
                        return Ok(v);
                    }
                }
                if let Some(f) = final_ {
                    v = f;
                }
                return Ok(v);
            }
            Special::Call => {
                let callee = call_args
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let call_values = self.eval_args(dot, call_args, final_, true)?;
                self.at = call_at;
                let msg = match call_values.first() {
                    None | Some(Value::Invalid | Value::Nil) => "call of nil".to_owned(),
                    Some(v) => format!("non-function {callee} of type {}", v.type_name()),
                };
                return Err(self.error_fn(
                    format!("error calling call: {msg}"),
                    Some("call".to_owned()),
                ));
            }
            Special::None | Special::Raw => {}
        }
        let mut call_values =
            self.eval_args(dot, call_args, final_, func.special == Special::Raw)?;
        self.at = call_at;
        let ctx = FuncContext {
            set: self.set,
            depth: self.depth,
            budget: self.budget,
        };
        loop {
            match (func.imp)(&ctx, &call_values) {
                Ok(v) => return Ok(v),
                Err(FuncError::ArgType {
                    index,
                    expected,
                    got,
                }) => {
                    // Go converts a number literal to a typed parameter by its text: `2.0` is
                    // an acceptable int, `2` an acceptable float64. Retry with that conversion.
                    let retyped = match (call_args.get(index), call_values.get(index)) {
                        (Some(Arg::Number { number, .. }), Some(current)) => {
                            literal_as(number, &expected)
                                .filter(|v| v.type_name() != current.type_name())
                        }
                        _ => None,
                    };
                    if let (Some(v), Some(slot)) = (retyped, call_values.get_mut(index)) {
                        *slot = v;
                    } else {
                        let e = FuncError::ArgType {
                            index,
                            expected,
                            got,
                        };
                        return Err(self.call_error(name, call_args, e));
                    }
                }
                Err(e) => return Err(self.call_error(name, call_args, e)),
            }
        }
    }

    /// The error for a failed function or method call, at the call (or at the offending
    /// argument for a type mismatch, worded as Go words it for a literal or a computed value).
    fn call_error(&mut self, name: &str, call_args: &[Arg], e: FuncError) -> ExecError {
        match e {
            FuncError::Failed(msg) => self.error_fn(
                format!("error calling {name}: {msg}"),
                Some(name.to_owned()),
            ),
            FuncError::Exec(inner) => {
                let mut err = self.error_fn(
                    format!("error calling {name}: {inner}"),
                    Some(name.to_owned()),
                );
                if let ExecError::At(at) = &mut err {
                    at.cause = Some(*inner);
                }
                err
            }
            FuncError::ArgType {
                index,
                expected,
                got,
            } => {
                let Some(arg) = call_args.get(index) else {
                    return self.error(format!(
                        "wrong type for value; expected {expected}; got {got}"
                    ));
                };
                self.at_arg(arg);
                match arg {
                    Arg::Nil { .. } => self.error(format!("cannot assign nil to {expected}")),
                    Arg::Number { .. } | Arg::Bool { .. } | Arg::String { .. } => {
                        let kind = match expected.as_str() {
                            "string" => "string",
                            "bool" => "bool",
                            "float64" | "float32" => "float",
                            "int" | "int64" | "int32" | "int16" | "int8" | "uint" | "uint64"
                            | "uint32" | "uint8" => "integer",
                            _ => {
                                return self.error(format!(
                                    "can't handle {arg} for arg of type {expected}"
                                ));
                            }
                        };
                        self.error(format!("expected {kind}; found {arg}"))
                    }
                    _ => self.error(format!(
                        "wrong type for value; expected {expected}; got {got}"
                    )),
                }
            }
        }
    }
}

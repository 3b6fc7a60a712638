//! The parser: lexed items into [`Tree`]s, as Go's `text/template/parse` builds them, with Go's
//! parse-time checks (undefined functions and variables, `break`/`continue` outside `range`,
//! empty pipelines, literals in later pipeline stages) and Go's messages.
//!
//! One source gives its own tree (named after the source) plus one tree per `define` and `block`.

use std::rc::Rc;

use super::ast::{Arg, Branch, Command, ListNode, Node, Pipe, Tree, is_empty_list};
use super::error::ParseError;
use super::lex::{Item, Kind, lex};
use super::literal;

/// The deepest nesting of parentheses and control structures accepted: deeper input is refused
/// rather than risking the stack.
const MAX_NESTING: usize = 100;

/// Parses `text` as the template `name`. `has_func` says whether a function name is defined.
/// Returns the trees in the order they were completed (`define`s first, the source's own last).
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, ParseError> {
    let source: Rc<str> = Rc::from(text);
    let mut p = Parser {
        items: lex(text),
        idx: 0,
        hi: 0,
        parse_name: Rc::from(name),
        source,
        has_func,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        action_pos: None,
        depth: 0,
        trees: Vec::new(),
    };
    let root = p.parse_top()?;
    p.add_tree(name.to_owned(), root)?;
    Ok(p.trees)
}

enum Parsed {
    Node(Node),
    End,
    Else,
}

struct Parser<'a> {
    items: Vec<Item>,
    idx: usize,
    hi: usize,
    parse_name: Rc<str>,
    source: Rc<str>,
    has_func: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    /// Where the action being parsed starts (its line is computed only for a message).
    action_pos: Option<usize>,
    depth: usize,
    trees: Vec<Tree>,
}

type Result<T, E = ParseError> = std::result::Result<T, E>;

impl Parser<'_> {
    fn line_of(&self, pos: usize) -> usize {
        1 + self
            .source
            .get(..pos.min(self.source.len()))
            .unwrap_or_default()
            .matches('\n')
            .count()
    }

    fn errorf(&self, message: String) -> ParseError {
        let pos = self.items.get(self.hi).map_or(self.source.len(), |i| i.pos);
        ParseError {
            name: self.parse_name.to_string(),
            line: self.line_of(pos),
            message,
        }
    }

    fn next(&mut self) -> Item {
        let last = self.items.len().saturating_sub(1);
        let i = self.idx.min(last);
        self.hi = self.hi.max(i);
        if self.idx <= last {
            self.idx += 1;
        }
        self.items.get(i).cloned().unwrap_or(Item {
            kind: Kind::Eof,
            pos: self.source.len(),
            val: String::new(),
        })
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let it = self.next();
        self.backup();
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.kind != Kind::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn expect(&mut self, kind: Kind, context: &str) -> Result<Item> {
        let it = self.next_non_space();
        if it.kind != kind {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    fn unexpected(&self, it: &Item, context: &str) -> ParseError {
        if it.kind == Kind::Error {
            let mut extra = String::new();
            let action_line = self.action_pos.map(|p| self.line_of(p));
            if let Some(action_line) = action_line.filter(|&l| l != self.line_of(it.pos)) {
                extra = format!(" in action started at {}:{}", self.parse_name, action_line);
                if it.val.ends_with(" action") {
                    extra = extra.replacen(" in action", "", 1);
                }
            }
            return self.errorf(format!("{it}{extra}"));
        }
        self.errorf(format!("unexpected {it} in {context}"))
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.errorf(format!("nesting deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn add_tree(&mut self, name: String, root: ListNode) -> Result<()> {
        if let Some(existing) = self.trees.iter_mut().find(|t| t.name == name) {
            if is_empty_list(&existing.root) {
                existing.root = root;
                return Ok(());
            }
            if !is_empty_list(&root) {
                return Err(self.errorf(format!(
                    "template: multiple definition of template {}",
                    super::fmt::quote(&name, false)
                )));
            }
            return Ok(());
        }
        self.trees.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            source: self.source.clone(),
            root,
        });
        Ok(())
    }

    fn parse_top(&mut self) -> Result<ListNode> {
        let mut root = ListNode::default();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let mark = self.idx;
                self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = mark;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                Parsed::End => return Err(self.errorf("unexpected {{end}}".to_owned())),
                Parsed::Else => return Err(self.errorf("unexpected {{else}}".to_owned())),
            }
        }
        Ok(root)
    }

    /// Parses a body in a fresh scope (a `define` or `block`), ending at its `{{end}}`.
    fn parse_body(&mut self, context: &str) -> Result<ListNode> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (root, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.vars = saved_vars;
        self.range_depth = saved_range;
        Ok(root)
    }

    fn parse_definition(&mut self) -> Result<()> {
        const CONTEXT: &str = "define clause";
        let it = self.next_non_space();
        if it.kind != Kind::String && it.kind != Kind::RawString {
            return Err(self.unexpected(&it, CONTEXT));
        }
        let name = literal::unquote(&it.val).map_err(|e| self.errorf(e))?;
        self.expect(Kind::RightDelim, CONTEXT)?;
        let root = self.parse_body(CONTEXT)?;
        self.add_tree(name, root)
    }

    fn item_list(&mut self) -> Result<(ListNode, Parsed)> {
        let mut list = ListNode::default();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                other => return Ok((list, other)),
            }
        }
        Err(self.errorf("unexpected EOF".to_owned()))
    }

    fn text_or_action(&mut self) -> Result<Parsed> {
        let it = self.next_non_space();
        match it.kind {
            Kind::Text => Ok(Parsed::Node(Node::Text { text: it.val })),
            Kind::LeftDelim => {
                self.action_pos = Some(it.pos);
                let r = self.action();
                self.action_pos = None;
                r
            }
            _ => Err(self.unexpected(&it, "input")),
        }
    }

    fn action(&mut self) -> Result<Parsed> {
        let it = self.next_non_space();
        match it.kind {
            Kind::Block => return self.block_control().map(Parsed::Node),
            Kind::Break | Kind::Continue => {
                let word = if it.kind == Kind::Break {
                    "break"
                } else {
                    "continue"
                };
                let t = self.next_non_space();
                if t.kind != Kind::RightDelim {
                    return Err(self.unexpected(&t, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                let node = if it.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                };
                return Ok(Parsed::Node(node));
            }
            Kind::Else => {
                let peek = self.peek_non_space();
                if peek.kind != Kind::If && peek.kind != Kind::With {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Parsed::Else);
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            Kind::If => return self.control("if").map(|b| Parsed::Node(Node::If(b))),
            Kind::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            Kind::With => return self.control("with").map(|b| Parsed::Node(Node::With(b))),
            Kind::Template => return self.template_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Parsed::Node(Node::Action { pos, pipe }))
    }

    fn control(&mut self, context: &str) -> Result<Branch> {
        self.enter()?;
        let saved_vars = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            let peek = self.peek();
            if context == "if" && peek.kind == Kind::If {
                self.next();
                let nested = self.control("if")?;
                else_list = Some(ListNode {
                    nodes: vec![Node::If(nested)],
                });
            } else if context == "with" && peek.kind == Kind::With {
                self.next();
                let nested = self.control("with")?;
                else_list = Some(ListNode {
                    nodes: vec![Node::With(nested)],
                });
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return Err(self.errorf("expected end; found {{else}}".to_owned()));
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(saved_vars);
        self.depth -= 1;
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, it: &Item, context: &str) -> Result<String> {
        match it.kind {
            Kind::String | Kind::RawString => literal::unquote(&it.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(it, context)),
        }
    }

    fn template_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "template clause";
        let it = self.next_non_space();
        let name = self.template_name(&it, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, Kind::RightDelim)?);
        }
        Ok(Node::Template {
            pos: it.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "block clause";
        let it = self.next_non_space();
        let name = self.template_name(&it, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let root = self.parse_body(CONTEXT)?;
        self.add_tree(name.clone(), root)?;
        Ok(Node::Template {
            pos: it.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> Result<Pipe> {
        self.enter()?;
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            if self.peek_non_space().kind != Kind::Variable {
                break;
            }
            let mark = self.idx;
            let v = self.next();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => {
                                return Err(
                                    self.errorf("range can only initialize variables".to_owned())
                                );
                            }
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    self.idx = mark;
                    break;
                }
            }
        }
        loop {
            let it = self.next_non_space();
            if it.kind == end {
                self.check_pipeline(&pipe, context)?;
                self.depth -= 1;
                return Ok(pipe);
            }
            match it.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&it, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Result<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number { .. }
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let it = self.next();
            match it.kind {
                Kind::Space => {}
                Kind::RightDelim | Kind::RightParen => {
                    self.backup();
                    break;
                }
                Kind::Pipe => break,
                _ => return Err(self.unexpected(&it, "operand")),
            }
        }
        if args.is_empty() {
            return Err(self.errorf("empty command".to_owned()));
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let f = self.next();
            fields.push(f.val.trim_start_matches('.').to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                let text = node.to_string();
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    super::fmt::quote(&text, false)
                )));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        let arg = match it.kind {
            Kind::Identifier => {
                if !(self.has_func)(&it.val) {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        super::fmt::quote(&it.val, false)
                    )));
                }
                Arg::Identifier { pos, name: it.val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                if !self.vars.contains(&it.val) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        super::fmt::quote(&it.val, false)
                    )));
                }
                Arg::Variable {
                    pos,
                    idents: vec![it.val],
                }
            }
            Kind::Field => Arg::Field {
                pos,
                idents: vec![it.val.trim_start_matches('.').to_owned()],
            },
            Kind::Bool => Arg::Bool {
                pos,
                value: it.val == "true",
            },
            Kind::CharConstant => {
                let number = literal::char_number(&it.val).map_err(|e| self.errorf(e))?;
                Arg::Number { pos, number }
            }
            Kind::Number => {
                let number = literal::number(&it.val).map_err(|e| self.errorf(e))?;
                Arg::Number { pos, number }
            }
            Kind::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", Kind::RightParen)?,
            )),
            Kind::String | Kind::RawString => {
                let value = literal::unquote(&it.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos,
                    quoted: it.val,
                    value,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }
}

#[cfg(test)]
mod tests;

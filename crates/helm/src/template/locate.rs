//! Finding the node an error happened at, for Go's `at <node>` context.
//!
//! The executor records only the byte offset and kind of the node it is at (cheap, done for
//! every node); the text is produced here, by finding that node in the tree again, only when
//! an error is reported.

use super::ast::{Arg, ListNode, Node, Pipe, Tree};

/// The kind of node the executor is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    Action,
    If,
    With,
    Range,
    Template,
    Pipe,
    Command,
    Arg,
}

/// Go's text of the node of kind `tag` at `pos` (whole: the Go that Helm 4.1.4 is built with
/// no longer cuts it to 20 characters).
pub(crate) fn context(tree: &Tree, pos: usize, tag: Tag) -> String {
    find_list(&tree.root, pos, tag).unwrap_or_default()
}

fn find_list(list: &ListNode, pos: usize, tag: Tag) -> Option<String> {
    list.nodes.iter().find_map(|n| find_node(n, pos, tag))
}

fn find_node(node: &Node, pos: usize, tag: Tag) -> Option<String> {
    match node {
        Node::Text { .. } | Node::Break | Node::Continue => None,
        Node::Action { pos: p, pipe } => {
            if tag == Tag::Action && *p == pos {
                return Some(node.to_string());
            }
            find_pipe(pipe, pos, tag)
        }
        Node::If(b) | Node::With(b) | Node::Range(b) => {
            let own = match node {
                Node::If(_) => Tag::If,
                Node::With(_) => Tag::With,
                _ => Tag::Range,
            };
            if tag == own && b.pos == pos {
                return Some(node.to_string());
            }
            find_pipe(&b.pipe, pos, tag)
                .or_else(|| find_list(&b.list, pos, tag))
                .or_else(|| b.else_list.as_ref().and_then(|e| find_list(e, pos, tag)))
        }
        Node::Template { pos: p, pipe, .. } => {
            if tag == Tag::Template && *p == pos {
                return Some(node.to_string());
            }
            pipe.as_ref().and_then(|pipe| find_pipe(pipe, pos, tag))
        }
    }
}

fn find_pipe(pipe: &Pipe, pos: usize, tag: Tag) -> Option<String> {
    if tag == Tag::Pipe && pipe.pos == pos {
        return Some(pipe.to_string());
    }
    for cmd in &pipe.cmds {
        if tag == Tag::Command && cmd.pos == pos {
            return Some(cmd.to_string());
        }
        if let Some(found) = cmd.args.iter().find_map(|a| find_arg(a, pos, tag)) {
            return Some(found);
        }
    }
    None
}

fn find_arg(arg: &Arg, pos: usize, tag: Tag) -> Option<String> {
    match arg {
        Arg::Pipe(p) => find_pipe(p, pos, tag),
        Arg::Chain { node, .. } => {
            if tag == Tag::Arg && arg.pos() == pos {
                return Some(arg.to_string());
            }
            find_arg(node, pos, tag)
        }
        _ => (tag == Tag::Arg && arg.pos() == pos).then(|| arg.to_string()),
    }
}

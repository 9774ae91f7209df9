//! MLflow's search filter grammar (`metrics.auc > 0.8 AND params.lr = '0.1'`) and
//! `order_by` clauses, parsed once and evaluated against plain facts about a run, a
//! registered model, a model version or a logged model.
//!
//! # Grammar (the subset MLflow's server accepts)
//!
//! ```text
//! filter  := <empty> | clause ( AND clause )*      AND in any case; no OR, no parentheses
//! clause  := key op value
//! key     := [ prefix "." ] name                   name bare ([A-Za-z0-9_.]), or quoted
//!                                                  with `backticks` or "double quotes"
//! prefix  := metric(s) | param(s) | parameter(s) | tag(s)
//!          | attribute(s) | attr | run | dataset(s)     (any case)
//! op      := = | != | > | >= | < | <= | LIKE | ILIKE | IS NULL | IS NOT NULL | IN | NOT IN
//! value   := number | 'text' | "text" | ( 'text' , ... )
//! ```
//!
//! One tokenizer and one clause parser serve all four filter kinds. Each kind only says,
//! in its `resolve_*` function, which keys exist, whether each compares numbers or text,
//! which operators it takes, and what an absent value means. The type checks (a metric
//! against a string, a param against a number, `IS NULL` on a metric, `IN` on
//! `run_name`) all happen in `compile`, so every rule is decided once.
//!
//! # Decisions where MLflow is unclear
//!
//! - `!=` and `NOT IN` on a value a run lacks (metric, param, tag, `end_time`, dataset
//!   `context`) do not match: only `IS NULL` matches an absent value.
//! - Registry tags are the exception: `tags.k != 'v'` matches a model or version without
//!   the tag. The client appends `` tag.`mlflow.prompt.is_prompt` != 'true' `` to every
//!   registered-model search, and ordinary models carry no such tag.
//! - Metric comparisons follow IEEE 754: a NaN metric matches only `!=`.
//! - Strings are single-quoted or double-quoted, with no escapes: a value cannot contain
//!   its own quote character.
//! - LIKE is case-sensitive; ILIKE lowercases both sides (Unicode lowercase) first.
//!   `%` matches any run of characters and `_` exactly one; there is no escape character.
//! - Entity prefixes are accepted in any case; attribute names are not.
//! - A bare key may contain dots after its prefix (`tags.mlflow.runName`); the prefix
//!   ends at the first dot.
//! - Ordering: a NaN metric is larger than every number, so it comes after all numbers
//!   in ascending order and before them in descending order; runs lacking the key come
//!   last either way.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// What a run filter can test: everything MLflow's search exposes about one run.
#[derive(Debug, Clone, Default)]
pub struct RunFacts<'a> {
    /// `attributes.run_id`.
    pub run_id: &'a str,
    /// `attributes.run_name`.
    pub run_name: &'a str,
    /// `attributes.status`: `RUNNING`, `FINISHED`, `FAILED`, `KILLED`, `SCHEDULED`.
    pub status: &'a str,
    /// `attributes.user_id`.
    pub user_id: &'a str,
    /// `attributes.artifact_uri`.
    pub artifact_uri: &'a str,
    /// `attributes.start_time` (also `created`), ms since the epoch.
    pub start_time: i64,
    /// `attributes.end_time`, ms since the epoch; none while running.
    pub end_time: Option<i64>,
    /// Latest value per metric key.
    pub metrics: BTreeMap<&'a str, f64>,
    /// Params.
    pub params: BTreeMap<&'a str, &'a str>,
    /// Tags.
    pub tags: BTreeMap<&'a str, &'a str>,
    /// Dataset inputs.
    pub datasets: Vec<DatasetFacts<'a>>,
}

/// One dataset input of a run, as `datasets.*` filters see it.
#[derive(Debug, Clone, Default)]
pub struct DatasetFacts<'a> {
    /// `datasets.name`.
    pub name: &'a str,
    /// `datasets.digest`.
    pub digest: &'a str,
    /// `datasets.context` (the input tag `mlflow.data.context`), if any.
    pub context: Option<&'a str>,
}

/// What a registered-model filter can test, so the registry search needs no MLflow types.
#[derive(Debug, Clone, Default)]
pub struct ModelFacts<'a> {
    /// The registered model's `name`.
    pub name: &'a str,
    /// The registered model's tags (`tags.<key>`).
    pub tags: BTreeMap<&'a str, &'a str>,
}

/// What a model-version filter can test.
#[derive(Debug, Clone, Default)]
pub struct VersionFacts<'a> {
    /// The registered model's `name`.
    pub name: &'a str,
    /// `version_number`.
    pub version: u64,
    /// `run_id`; none for a version registered from a bare artifact location.
    pub run_id: Option<&'a str>,
    /// `source_path`: the `source` URI the version was registered from.
    pub source: &'a str,
    /// The version's tags (`tags.<key>`).
    pub tags: BTreeMap<&'a str, &'a str>,
}

/// What a logged-model filter can test (MLflow 3's `logged-models/search`).
#[derive(Debug, Clone, Default)]
pub struct LoggedModelFacts<'a> {
    /// `model_id`.
    pub model_id: &'a str,
    /// `name` (the `name=` given to `log_model`).
    pub name: &'a str,
    /// `model_type`, if the client sent one.
    pub model_type: Option<&'a str>,
    /// `status`, e.g. `LOGGED_MODEL_READY`.
    pub status: &'a str,
    /// `source_run_id`, if the model was logged inside a run.
    pub source_run_id: Option<&'a str>,
    /// `creation_timestamp` (also `creation_time`), ms since the epoch.
    pub creation_timestamp: i64,
    /// `last_updated_timestamp`, ms since the epoch.
    pub last_updated_timestamp: i64,
    /// Params.
    pub params: BTreeMap<&'a str, &'a str>,
    /// Tags.
    pub tags: BTreeMap<&'a str, &'a str>,
    /// Latest value per metric key.
    pub metrics: BTreeMap<&'a str, f64>,
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Which input a [`FilterError`] is about, so its message names the input as the client
/// called it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A `filter` string.
    Filter,
    /// One `order_by` entry.
    OrderBy,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Filter => "filter",
            InputKind::OrderBy => "order_by",
        })
    }
}

/// A filter or `order_by` entry the grammar refuses. The server answers it as 400
/// `INVALID_PARAMETER_VALUE` with this message, so the message names the offending token
/// and its character offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{input}`: {reason} at character {offset}")]
pub struct FilterError {
    kind: InputKind,
    input: String,
    offset: usize,
    reason: String,
}

impl FilterError {
    fn new(kind: InputKind, input: &str, byte: usize, reason: impl Into<String>) -> Self {
        let byte = byte.min(input.len());
        let offset = input
            .get(..byte)
            .map_or(byte, |before| before.chars().count());
        FilterError {
            kind,
            input: input.to_owned(),
            offset,
            reason: reason.into(),
        }
    }

    /// Whether a filter or an `order_by` entry was refused.
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// The refused input, verbatim.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Where the offending token starts, in characters (not bytes) from 0; the input's
    /// length when the input ended too early.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong, without the input and the offset.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

/// A comparison or membership operator, as written in a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    ILike,
    IsNull,
    IsNotNull,
    In,
    NotIn,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'s> {
    /// A bare word: a key, possibly with its prefix, or a keyword.
    Word(&'s str),
    /// `'text'`.
    Single(&'s str),
    /// `"text"`: a key or a value, depending on where it stands.
    Double(&'s str),
    /// `` `text` ``: a key.
    Backtick(&'s str),
    Number(f64),
    Cmp(Op),
    Open,
    Close,
    Comma,
}

#[derive(Debug, Clone, Copy)]
struct Token<'s> {
    tok: Tok<'s>,
    /// Byte offset of the token's first character.
    at: usize,
    /// The token as written, for messages.
    text: &'s str,
}

impl Token<'_> {
    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

const KEYWORDS: &[&str] = &[
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC",
];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Length in bytes of the number at the start of `s`, if one starts there.
fn number_len(s: &[u8]) -> Option<usize> {
    let digits_from = |mut i: usize| {
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    let int_end = digits_from(i);
    let mut digits = int_end - i;
    i = int_end;
    if s.get(i) == Some(&b'.') {
        let frac_end = digits_from(i + 1);
        digits += frac_end - (i + 1);
        i = frac_end;
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let exp_end = digits_from(j);
        if exp_end > j {
            i = exp_end;
        }
    }
    Some(i)
}

fn tokenize(src: &str, kind: InputKind) -> Result<Vec<Token<'_>>, FilterError> {
    let err = |at: usize, reason: String| FilterError::new(kind, src, at, reason);
    let mut out = Vec::new();
    let mut rest = src.char_indices().peekable();
    while let Some((start, c)) = rest.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let tok = match c {
            '\'' | '"' | '`' => {
                let Some(len) = src[end..].find(c) else {
                    return Err(err(
                        start,
                        format!("unterminated quote: `{c}` opened here is never closed"),
                    ));
                };
                let inner = &src[end..end + len];
                end += len + 1;
                match c {
                    '\'' => Tok::Single(inner),
                    '"' => Tok::Double(inner),
                    _ => Tok::Backtick(inner),
                }
            }
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '=' => Tok::Cmp(Op::Eq),
            '!' | '<' | '>' => {
                let followed_by_eq = src[end..].starts_with('=');
                if followed_by_eq {
                    end += 1;
                }
                match (c, followed_by_eq) {
                    ('!', true) => Tok::Cmp(Op::Ne),
                    ('<', true) => Tok::Cmp(Op::Le),
                    ('<', false) => Tok::Cmp(Op::Lt),
                    ('>', true) => Tok::Cmp(Op::Ge),
                    ('>', false) => Tok::Cmp(Op::Gt),
                    _ => return Err(err(start, "`!` must be followed by `=`".to_owned())),
                }
            }
            _ if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => {
                let Some(len) = number_len(&src.as_bytes()[start..]) else {
                    return Err(err(start, format!("unexpected character `{c}`")));
                };
                end = start + len;
                let text = &src[start..end];
                match text.parse::<f64>() {
                    Ok(n) => Tok::Number(n),
                    Err(_) => return Err(err(start, format!("`{text}` is not a number"))),
                }
            }
            _ if c.is_alphabetic() || c == '_' => {
                while let Some(&(i, next)) = rest.peek() {
                    if !is_word_char(next) {
                        break;
                    }
                    end = i + next.len_utf8();
                    rest.next();
                }
                Tok::Word(&src[start..end])
            }
            _ => {
                return Err(err(
                    start,
                    format!(
                        "unexpected character `{c}` (quote keys with backticks and values with \
                         single quotes)"
                    ),
                ))
            }
        };
        // Quoted strings and numbers were consumed by slicing; catch the iterator up.
        while rest.peek().is_some_and(|&(i, _)| i < end) {
            rest.next();
        }
        out.push(Token {
            tok,
            at: start,
            text: &src[start..end],
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Clauses
// ---------------------------------------------------------------------------------------

/// The entity a key belongs to, after resolving MLflow's aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Bare,
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Prefix {
    fn from_alias(alias: &str) -> Option<Prefix> {
        match alias.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Some(Prefix::Metric),
            "param" | "params" | "parameter" | "parameters" => Some(Prefix::Param),
            "tag" | "tags" => Some(Prefix::Tag),
            "attribute" | "attributes" | "attr" | "run" => Some(Prefix::Attribute),
            "dataset" | "datasets" => Some(Prefix::Dataset),
            _ => None,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Prefix::Bare | Prefix::Attribute => "attributes",
            Prefix::Metric => "metrics",
            Prefix::Param => "params",
            Prefix::Tag => "tags",
            Prefix::Dataset => "datasets",
        }
    }
}

#[derive(Debug)]
struct Key {
    prefix: Prefix,
    name: String,
    at: usize,
}

#[derive(Debug)]
enum Value {
    None,
    Number(f64),
    Text(String),
    List(Vec<String>),
}

#[derive(Debug)]
struct RawClause<'s> {
    key: Key,
    op: Op,
    op_at: usize,
    value: Value,
    value_at: usize,
    value_text: &'s str,
}

struct Cursor<'s> {
    src: &'s str,
    kind: InputKind,
    toks: Vec<Token<'s>>,
    pos: usize,
}

const OR_REFUSED: &str = "`OR` is not supported: MLflow's search grammar joins clauses with AND \
                          only, and MLflow itself rejects OR; run one search per alternative";
const PARENS_REFUSED: &str = "parentheses are not supported: MLflow's search grammar has no \
                              grouping (they appear only around an IN list)";

impl<'s> Cursor<'s> {
    fn new(src: &'s str, kind: InputKind) -> Result<Self, FilterError> {
        Ok(Cursor {
            src,
            kind,
            toks: tokenize(src, kind)?,
            pos: 0,
        })
    }

    fn peek(&self) -> Option<Token<'s>> {
        self.toks.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Token<'s>> {
        let t = self.peek();
        self.pos += usize::from(t.is_some());
        t
    }

    /// Where the last consumed token ends.
    fn consumed_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(0, |t| t.at + t.text.len())
    }

    fn err(&self, at: usize, reason: impl Into<String>) -> FilterError {
        FilterError::new(self.kind, self.src, at, reason)
    }

    /// An error about `found`, or about the input ending where `found` is none.
    fn unexpected(&self, found: Option<Token<'s>>, expected: &str) -> FilterError {
        match found {
            Some(t) if t.is_keyword("OR") => self.err(t.at, OR_REFUSED),
            Some(t) if matches!(t.tok, Tok::Open | Tok::Close) => self.err(t.at, PARENS_REFUSED),
            Some(t) => self.err(t.at, format!("expected {expected}, got `{}`", t.text)),
            None => self.err(
                self.src.len(),
                format!("expected {expected}, got the end of the {}", self.kind),
            ),
        }
    }

    fn key(&mut self) -> Result<Key, FilterError> {
        const EXPECTED: &str = "a key such as `metrics.auc` or `tags.`mlflow.runName``";
        let found = self.next();
        let (prefix, name, at) = match found.map(|t| (t, t.tok)) {
            Some((t, Tok::Word(w))) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w)) => {
                match w.split_once('.') {
                    None => (Prefix::Bare, w.to_owned(), t.at),
                    Some((alias, rest)) => {
                        let prefix = Prefix::from_alias(alias).ok_or_else(|| {
                            self.err(
                                t.at,
                                format!(
                                    "unknown entity `{alias}`; expected metrics, params, tags, \
                                     attributes or datasets"
                                ),
                            )
                        })?;
                        if rest.is_empty() {
                            match self.next() {
                                Some(Token {
                                    tok: Tok::Backtick(k) | Tok::Double(k),
                                    ..
                                }) => (prefix, k.to_owned(), t.at),
                                other => {
                                    return Err(self.unexpected(
                                        other,
                                        &format!(
                                            "a key after `{w}`, quoted with backticks or \
                                             double quotes"
                                        ),
                                    ))
                                }
                            }
                        } else {
                            (prefix, rest.to_owned(), t.at)
                        }
                    }
                }
            }
            Some((t, Tok::Backtick(k) | Tok::Double(k))) => (Prefix::Bare, k.to_owned(), t.at),
            _ => return Err(self.unexpected(found, EXPECTED)),
        };
        if name.is_empty() {
            return Err(self.err(at, "the key is empty"));
        }
        Ok(Key { prefix, name, at })
    }

    fn op(&mut self) -> Result<(Op, usize), FilterError> {
        const EXPECTED: &str =
            "an operator (=, !=, >, >=, <, <=, LIKE, ILIKE, IS NULL, IS NOT NULL, IN, NOT IN)";
        let found = self.next();
        let Some(t) = found else {
            return Err(self.unexpected(None, EXPECTED));
        };
        let op = match t.tok {
            Tok::Cmp(op) => op,
            Tok::Word(_) if t.is_keyword("LIKE") => Op::Like,
            Tok::Word(_) if t.is_keyword("ILIKE") => Op::ILike,
            Tok::Word(_) if t.is_keyword("IN") => Op::In,
            Tok::Word(_) if t.is_keyword("IS") => {
                let negated = self.peek().is_some_and(|n| n.is_keyword("NOT"));
                if negated {
                    self.next();
                }
                match self.next() {
                    Some(n) if n.is_keyword("NULL") && negated => Op::IsNotNull,
                    Some(n) if n.is_keyword("NULL") => Op::IsNull,
                    other => return Err(self.unexpected(other, "NULL or NOT NULL after IS")),
                }
            }
            Tok::Word(_) if t.is_keyword("NOT") => match self.next() {
                Some(n) if n.is_keyword("IN") => Op::NotIn,
                other => {
                    return Err(self.unexpected(other, "IN after NOT (NOT LIKE is not supported)"))
                }
            },
            _ => return Err(self.unexpected(found, EXPECTED)),
        };
        Ok((op, t.at))
    }

    /// Reads the value after `op`; `op_end` is where the operator ended, which is where
    /// `IS NULL` (which has no value) is reported.
    fn value(&mut self, op: Op, op_end: usize) -> Result<(Value, usize, &'s str), FilterError> {
        match op {
            Op::IsNull | Op::IsNotNull => Ok((Value::None, op_end, "")),
            Op::In | Op::NotIn => self.list(op),
            _ => {
                let found = self.next();
                let value = match found.map(|t| (t, t.tok)) {
                    Some((t, Tok::Single(s) | Tok::Double(s))) => (Value::Text(s.to_owned()), t),
                    Some((t, Tok::Number(n))) => (Value::Number(n), t),
                    Some((t, Tok::Word(_))) if !t.is_keyword("OR") => {
                        return Err(self.unexpected(
                            found,
                            "a number or a quoted string (quote text with single quotes)",
                        ))
                    }
                    _ => return Err(self.unexpected(found, "a number or a quoted string")),
                };
                Ok((value.0, value.1.at, value.1.text))
            }
        }
    }

    fn list(&mut self, op: Op) -> Result<(Value, usize, &'s str), FilterError> {
        let open = self.next();
        let Some(start) = open.filter(|t| t.tok == Tok::Open) else {
            return Err(self.unexpected(open, &format!("`(` after {op}")));
        };
        let mut items = Vec::new();
        loop {
            let item = self.next();
            match item.map(|t| t.tok) {
                Some(Tok::Single(s) | Tok::Double(s)) => items.push(s.to_owned()),
                _ => {
                    let expected = "a quoted string in the list";
                    return Err(match item {
                        Some(t) => self.err(t.at, format!("expected {expected}, got `{}`", t.text)),
                        None => self.unexpected(None, expected),
                    });
                }
            }
            match self.next() {
                Some(Token {
                    tok: Tok::Comma, ..
                }) => continue,
                Some(
                    close @ Token {
                        tok: Tok::Close, ..
                    },
                ) => {
                    let text = &self.src[start.at..close.at + close.text.len()];
                    return Ok((Value::List(items), start.at, text));
                }
                Some(t) => {
                    return Err(self.err(t.at, format!("expected `,` or `)`, got `{}`", t.text)))
                }
                None => return Err(self.unexpected(None, "`,` or `)`")),
            }
        }
    }

    fn clause(&mut self) -> Result<RawClause<'s>, FilterError> {
        let key = self.key()?;
        let (op, op_at) = self.op()?;
        let (value, value_at, value_text) = self.value(op, self.consumed_end())?;
        Ok(RawClause {
            key,
            op,
            op_at,
            value,
            value_at,
            value_text,
        })
    }
}

/// Splits a filter into clauses without knowing what the keys mean.
fn parse_clauses(src: &str) -> Result<Vec<RawClause<'_>>, FilterError> {
    let mut cursor = Cursor::new(src, InputKind::Filter)?;
    let mut clauses = Vec::new();
    if cursor.peek().is_none() {
        return Ok(clauses);
    }
    loop {
        clauses.push(cursor.clause()?);
        match cursor.next() {
            None => return Ok(clauses),
            Some(t) if t.is_keyword("AND") => {
                if cursor.peek().is_none() {
                    return Err(cursor.unexpected(None, "a clause after `AND`"));
                }
            }
            other => {
                return Err(cursor.unexpected(other, "`AND` or the end of the filter"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rules: what each filter kind accepts
// ---------------------------------------------------------------------------------------

/// Whether a key compares numbers or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
}

/// What `!=` and `NOT IN` make of a value the entity lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// Nothing matches an absent value except `IS NULL`.
    NoMatch,
    /// An absent value differs from every string.
    Unequal,
}

const NUMERIC: &[Op] = &[Op::Eq, Op::Ne, Op::Gt, Op::Ge, Op::Lt, Op::Le];
const TEXT: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike];
const TEXT_OR_NULL: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Like,
    Op::ILike,
    Op::IsNull,
    Op::IsNotNull,
];
const TEXT_OR_LIST: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];

/// What one key of one filter kind accepts.
struct Rule<F> {
    field: F,
    kind: Kind,
    ops: &'static [Op],
    /// How messages name the key: "a metric", "the attribute `status`".
    what: String,
    absent: Absent,
}

impl<F> Rule<F> {
    fn new(field: F, kind: Kind, ops: &'static [Op], what: impl Into<String>) -> Self {
        Rule {
            field,
            kind,
            ops,
            what: what.into(),
            absent: Absent::NoMatch,
        }
    }

    fn absent_is_unequal(mut self) -> Self {
        self.absent = Absent::Unequal;
        self
    }
}

fn attribute(key: &str) -> String {
    format!("the attribute `{key}`")
}

fn join_ops(ops: &[Op]) -> String {
    ops.iter().map(Op::to_string).collect::<Vec<_>>().join(", ")
}

/// A clause checked against its filter kind's rules, ready to evaluate.
#[derive(Debug, Clone)]
struct Condition<F> {
    field: F,
    test: Test,
    absent: Absent,
}

#[derive(Debug, Clone)]
enum Test {
    Compare(Op, f64),
    Text(Op, String),
    IsNull,
    IsNotNull,
    In(Vec<String>),
    NotIn(Vec<String>),
}

/// The value an entity has for a condition's key.
#[derive(Debug, Clone, Copy)]
enum Seen<'a> {
    Number(Option<f64>),
    Text(Option<&'a str>),
}

impl<F> Condition<F> {
    fn holds(&self, seen: Seen<'_>) -> bool {
        match (&self.test, seen) {
            (Test::IsNull, Seen::Number(v)) => v.is_none(),
            (Test::IsNull, Seen::Text(v)) => v.is_none(),
            (Test::IsNotNull, Seen::Number(v)) => v.is_some(),
            (Test::IsNotNull, Seen::Text(v)) => v.is_some(),
            (Test::Compare(op, x), Seen::Number(Some(v))) => match op {
                Op::Eq => v == *x,
                Op::Ne => v != *x,
                Op::Gt => v > *x,
                Op::Ge => v >= *x,
                Op::Lt => v < *x,
                Op::Le => v <= *x,
                _ => false,
            },
            (Test::Text(op, pattern), Seen::Text(Some(v))) => match op {
                Op::Eq => v == pattern,
                Op::Ne => v != pattern,
                Op::Like => like(pattern, v),
                Op::ILike => like(&pattern.to_lowercase(), &v.to_lowercase()),
                _ => false,
            },
            (Test::In(list), Seen::Text(Some(v))) => list.iter().any(|s| s == v),
            (Test::NotIn(list), Seen::Text(Some(v))) => !list.iter().any(|s| s == v),
            (Test::Text(Op::Ne, _) | Test::NotIn(_), Seen::Text(None)) => {
                self.absent == Absent::Unequal
            }
            _ => false,
        }
    }
}

/// SQL LIKE without an escape character: `%` matches any run of characters, `_` one.
fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `%` was, and how much text it has swallowed so far: on a mismatch
    // it swallows one more character and matching resumes after it.
    let mut last_percent: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('%') => {
                pi += 1;
                last_percent = Some((pi, ti));
            }
            Some(&c) if c == '_' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match last_percent {
                Some((after, swallowed)) => {
                    pi = after;
                    ti = swallowed + 1;
                    last_percent = Some((after, swallowed + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// Parses a filter and checks every clause against one filter kind's rules; every type
/// and operator check lives here.
fn compile<F>(
    src: &str,
    resolve: fn(Prefix, &str) -> Result<Rule<F>, String>,
) -> Result<Vec<Condition<F>>, FilterError> {
    let err = |at: usize, reason: String| FilterError::new(InputKind::Filter, src, at, reason);
    parse_clauses(src)?
        .into_iter()
        .map(|c| {
            let rule = resolve(c.key.prefix, &c.key.name).map_err(|r| err(c.key.at, r))?;
            if !rule.ops.contains(&c.op) {
                return Err(err(
                    c.op_at,
                    format!(
                        "`{}` is not allowed on {}; use one of {}",
                        c.op,
                        rule.what,
                        join_ops(rule.ops)
                    ),
                ));
            }
            let test = match (c.value, rule.kind) {
                (Value::None, _) if c.op == Op::IsNull => Test::IsNull,
                (Value::None, _) => Test::IsNotNull,
                (Value::List(items), Kind::Text) if c.op == Op::In => Test::In(items),
                (Value::List(items), Kind::Text) => Test::NotIn(items),
                (Value::Number(n), Kind::Number) => Test::Compare(c.op, n),
                (Value::Text(s), Kind::Text) => Test::Text(c.op, s),
                (Value::Text(_), Kind::Number) => {
                    return Err(err(
                        c.value_at,
                        format!(
                            "{} is compared with a number, got the string {}",
                            rule.what, c.value_text
                        ),
                    ))
                }
                (Value::Number(_), Kind::Text) => {
                    return Err(err(
                        c.value_at,
                        format!(
                            "{} is compared with a quoted string, got the number {} (write '{}')",
                            rule.what, c.value_text, c.value_text
                        ),
                    ))
                }
                (Value::List(_), Kind::Number) => {
                    return Err(err(
                        c.value_at,
                        format!("{} is compared with a number, got a list", rule.what),
                    ))
                }
            };
            Ok(Condition {
                field: rule.field,
                test,
                absent: rule.absent,
            })
        })
        .collect()
}

fn refuse_prefix(entity: &str, prefix: Prefix, allowed: &str) -> String {
    format!(
        "{entity} cannot be filtered on {}; filter on {allowed}",
        prefix.plural()
    )
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

/// A run attribute, shared by run filters and `order_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunAttr {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

const RUN_ATTRIBUTES: &str =
    "run_id, run_name, status, user_id, artifact_uri, start_time, end_time, created";

impl RunAttr {
    fn from_key(key: &str) -> Option<RunAttr> {
        Some(match key {
            "run_id" => RunAttr::RunId,
            "run_name" | "run name" => RunAttr::RunName,
            "status" => RunAttr::Status,
            "user_id" => RunAttr::UserId,
            "artifact_uri" => RunAttr::ArtifactUri,
            "start_time" | "created" => RunAttr::StartTime,
            "end_time" => RunAttr::EndTime,
            _ => return None,
        })
    }

    fn of<'a>(self, run: &RunFacts<'a>) -> Seen<'a> {
        match self {
            RunAttr::RunId => Seen::Text(Some(run.run_id)),
            RunAttr::RunName => Seen::Text(Some(run.run_name)),
            RunAttr::Status => Seen::Text(Some(run.status)),
            RunAttr::UserId => Seen::Text(Some(run.user_id)),
            RunAttr::ArtifactUri => Seen::Text(Some(run.artifact_uri)),
            RunAttr::StartTime => Seen::Number(Some(run.start_time as f64)),
            RunAttr::EndTime => Seen::Number(run.end_time.map(|t| t as f64)),
        }
    }
}

fn unknown_run_attribute(key: &str) -> String {
    if key == "lifecycle_stage" {
        "`lifecycle_stage` cannot be filtered on; choose active or deleted runs with \
         run_view_type (ACTIVE_ONLY, DELETED_ONLY, ALL) instead"
            .to_owned()
    } else {
        format!(
            "unknown attribute `{key}`; runs have {RUN_ATTRIBUTES} (prefix metrics., params. \
             or tags. for those)"
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum DatasetAttr {
    Name,
    Digest,
    Context,
}

#[derive(Debug, Clone)]
enum RunField {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(RunAttr),
    Dataset(DatasetAttr),
}

fn resolve_run(prefix: Prefix, key: &str) -> Result<Rule<RunField>, String> {
    let key_owned = key.to_owned();
    Ok(match prefix {
        Prefix::Metric => Rule::new(
            RunField::Metric(key_owned),
            Kind::Number,
            NUMERIC,
            "a metric",
        ),
        Prefix::Param => Rule::new(
            RunField::Param(key_owned),
            Kind::Text,
            TEXT_OR_NULL,
            "a param",
        ),
        Prefix::Tag => Rule::new(RunField::Tag(key_owned), Kind::Text, TEXT_OR_NULL, "a tag"),
        Prefix::Bare | Prefix::Attribute => {
            let attr = RunAttr::from_key(key).ok_or_else(|| unknown_run_attribute(key))?;
            let (kind, ops) = match attr {
                RunAttr::StartTime | RunAttr::EndTime => (Kind::Number, NUMERIC),
                RunAttr::RunId => (Kind::Text, TEXT_OR_LIST),
                _ => (Kind::Text, TEXT),
            };
            Rule::new(RunField::Attr(attr), kind, ops, attribute(key))
        }
        Prefix::Dataset => {
            let attr = match key {
                "name" => DatasetAttr::Name,
                "digest" => DatasetAttr::Digest,
                "context" => DatasetAttr::Context,
                _ => {
                    return Err(format!(
                        "unknown dataset field `{key}`; datasets have name, digest and context"
                    ))
                }
            };
            Rule::new(
                RunField::Dataset(attr),
                Kind::Text,
                TEXT_OR_LIST,
                format!("the dataset field `{key}`"),
            )
        }
    })
}

/// A parsed `runs/search` filter, so a search checks the grammar once and then tests
/// each run cheaply. The default filter matches every run.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    conditions: Vec<Condition<RunField>>,
}

impl RunFilter {
    /// Parses MLflow's run filter grammar; an empty or all-whitespace filter matches
    /// every run.
    ///
    /// # Errors
    ///
    /// [`FilterError`] naming the first token MLflow's server would refuse too: a bad
    /// key, operator or value type, `OR`, parentheses, an unterminated quote, trailing
    /// text or a dangling `AND`.
    pub fn parse(filter: &str) -> Result<RunFilter, FilterError> {
        Ok(RunFilter {
            conditions: compile(filter, resolve_run)?,
        })
    }

    /// The first clause on a metric, as its key and a test of the run's latest value: a
    /// run lacking the metric matches no such clause, so a search may read only the runs
    /// a metric value index admits, then check the whole filter on those.
    pub fn metric_clause(&self) -> Option<(&str, impl Fn(f64) -> bool + '_)> {
        self.conditions.iter().find_map(|c| match &c.field {
            RunField::Metric(k) => Some((k.as_str(), move |v: f64| c.holds(Seen::Number(Some(v))))),
            _ => None,
        })
    }

    /// Whether the run satisfies every clause. A run lacking a metric, param or tag
    /// matches no clause on it except `IS NULL`; a run matches a `datasets.*` clause when
    /// any of its dataset inputs does.
    pub fn matches(&self, run: &RunFacts<'_>) -> bool {
        self.conditions.iter().all(|c| {
            let seen = match &c.field {
                RunField::Metric(k) => Seen::Number(run.metrics.get(k.as_str()).copied()),
                RunField::Param(k) => Seen::Text(run.params.get(k.as_str()).copied()),
                RunField::Tag(k) => Seen::Text(run.tags.get(k.as_str()).copied()),
                RunField::Attr(attr) => attr.of(run),
                RunField::Dataset(attr) => {
                    return run.datasets.iter().any(|d| {
                        c.holds(Seen::Text(match attr {
                            DatasetAttr::Name => Some(d.name),
                            DatasetAttr::Digest => Some(d.digest),
                            DatasetAttr::Context => d.context,
                        }))
                    })
                }
            };
            c.holds(seen)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Run ordering
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum SortField {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(RunAttr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ascending,
    Descending,
}

#[derive(Debug, Clone)]
struct SortKey {
    field: SortField,
    direction: Direction,
}

impl SortField {
    fn of<'a>(&self, run: &RunFacts<'a>) -> Seen<'a> {
        match self {
            SortField::Metric(k) => Seen::Number(run.metrics.get(k.as_str()).copied()),
            SortField::Param(k) => Seen::Text(run.params.get(k.as_str()).copied()),
            SortField::Tag(k) => Seen::Text(run.tags.get(k.as_str()).copied()),
            SortField::Attr(attr) => attr.of(run),
        }
    }
}

/// Compares two present values of one key; NaN is larger than every number.
fn compare_present(a: Seen<'_>, b: Seen<'_>) -> Option<Ordering> {
    Some(match (a, b) {
        (Seen::Number(Some(x)), Seen::Number(Some(y))) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
        (Seen::Text(Some(x)), Seen::Text(Some(y))) => x.cmp(y),
        _ => return None,
    })
}

fn is_present(seen: Seen<'_>) -> bool {
    match seen {
        Seen::Number(v) => v.is_some(),
        Seen::Text(v) => v.is_some(),
    }
}

/// A parsed `order_by` list for `runs/search`, so pages are cut from one stable order.
/// The default order is MLflow's: `start_time DESC`, then `run_id`.
#[derive(Debug, Clone, Default)]
pub struct RunOrder {
    keys: Vec<SortKey>,
}

impl RunOrder {
    /// Parses `order_by` entries such as `metrics.auc DESC` or `` tags.`team` ``.
    ///
    /// # Errors
    ///
    /// [`FilterError`] for an entry with an unknown entity or attribute, a dataset key, a
    /// direction other than ASC or DESC, or text after the direction.
    pub fn parse(entries: &[String]) -> Result<RunOrder, FilterError> {
        let keys = entries
            .iter()
            .map(|entry| parse_sort_key(entry))
            .collect::<Result<_, _>>()?;
        Ok(RunOrder { keys })
    }

    /// Orders two runs: by each key in turn (runs lacking a key last, ascending or
    /// descending), then `start_time` descending, then `run_id` ascending. It is a total
    /// order, so a sort and the pages cut from it are stable.
    pub fn compare(&self, a: &RunFacts<'_>, b: &RunFacts<'_>) -> Ordering {
        for key in &self.keys {
            let (x, y) = (key.field.of(a), key.field.of(b));
            let ordering = match (is_present(x), is_present(y)) {
                (false, false) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (true, true) => {
                    let ordering = compare_present(x, y).unwrap_or(Ordering::Equal);
                    match key.direction {
                        Direction::Ascending => ordering,
                        Direction::Descending => ordering.reverse(),
                    }
                }
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        b.start_time
            .cmp(&a.start_time)
            .then_with(|| a.run_id.cmp(b.run_id))
    }
}

fn parse_sort_key(entry: &str) -> Result<SortKey, FilterError> {
    let mut cursor = Cursor::new(entry, InputKind::OrderBy)?;
    let key = cursor.key()?;
    let field = match key.prefix {
        Prefix::Metric => SortField::Metric(key.name),
        Prefix::Param => SortField::Param(key.name),
        Prefix::Tag => SortField::Tag(key.name),
        Prefix::Bare | Prefix::Attribute => match RunAttr::from_key(&key.name) {
            Some(attr) => SortField::Attr(attr),
            None => {
                return Err(cursor.err(
                    key.at,
                    format!(
                        "cannot order by the attribute `{}`; runs can be ordered by \
                         {RUN_ATTRIBUTES}, or metrics., params. and tags. keys",
                        key.name
                    ),
                ))
            }
        },
        Prefix::Dataset => {
            return Err(cursor.err(key.at, "runs cannot be ordered by dataset fields"));
        }
    };
    let direction = match cursor.next() {
        None => Direction::Ascending,
        Some(t) if t.is_keyword("ASC") => Direction::Ascending,
        Some(t) if t.is_keyword("DESC") => Direction::Descending,
        other => return Err(cursor.unexpected(other, "ASC, DESC or the end of the entry")),
    };
    if let Some(extra) = cursor.next() {
        return Err(cursor.err(
            extra.at,
            format!(
                "expected the end of the entry after the direction, got `{}`",
                extra.text
            ),
        ));
    }
    Ok(SortKey { field, direction })
}

// ---------------------------------------------------------------------------------------
// Registered models and model versions
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum ModelField {
    Name,
    Tag(String),
}

fn resolve_model(prefix: Prefix, key: &str) -> Result<Rule<ModelField>, String> {
    const ALLOWED: &str = "`name` and `tags.<key>`";
    match prefix {
        Prefix::Bare | Prefix::Attribute if key == "name" => Ok(Rule::new(
            ModelField::Name,
            Kind::Text,
            TEXT,
            attribute(key),
        )),
        Prefix::Bare | Prefix::Attribute => Err(format!(
            "unknown attribute `{key}`; registered models can be filtered on {ALLOWED}"
        )),
        Prefix::Tag => Ok(
            Rule::new(ModelField::Tag(key.to_owned()), Kind::Text, TEXT, "a tag")
                .absent_is_unequal(),
        ),
        _ => Err(refuse_prefix("registered models", prefix, ALLOWED)),
    }
}

/// A parsed `registered-models/search` filter, including the prompt guard clause the
/// client appends. The default filter matches every model.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    conditions: Vec<Condition<ModelField>>,
}

impl ModelFilter {
    /// Parses a registered-model filter: `name` and `tags.<key>` with `= != LIKE ILIKE`.
    ///
    /// # Errors
    ///
    /// [`FilterError`] for any other key or operator, or a malformed filter.
    pub fn parse(filter: &str) -> Result<ModelFilter, FilterError> {
        Ok(ModelFilter {
            conditions: compile(filter, resolve_model)?,
        })
    }

    /// Whether the model satisfies every clause; `tags.k != 'v'` matches a model without
    /// the tag, so the client's prompt guard keeps ordinary models.
    pub fn matches(&self, model: &ModelFacts<'_>) -> bool {
        self.conditions.iter().all(|c| {
            c.holds(Seen::Text(match &c.field {
                ModelField::Name => Some(model.name),
                ModelField::Tag(k) => model.tags.get(k.as_str()).copied(),
            }))
        })
    }
}

#[derive(Debug, Clone)]
enum VersionField {
    Name,
    RunId,
    Version,
    Source,
    Tag(String),
}

fn resolve_version(prefix: Prefix, key: &str) -> Result<Rule<VersionField>, String> {
    const ALLOWED: &str = "`name`, `run_id`, `version_number`, `source_path` and `tags.<key>`";
    match prefix {
        Prefix::Bare | Prefix::Attribute => {
            let (field, kind, ops) = match key {
                "name" => (VersionField::Name, Kind::Text, TEXT_OR_LIST),
                "run_id" => (VersionField::RunId, Kind::Text, TEXT_OR_LIST),
                "version_number" => (VersionField::Version, Kind::Number, NUMERIC),
                "source_path" => (VersionField::Source, Kind::Text, TEXT),
                _ => {
                    return Err(format!(
                        "unknown attribute `{key}`; model versions can be filtered on {ALLOWED}"
                    ))
                }
            };
            Ok(Rule::new(field, kind, ops, attribute(key)))
        }
        Prefix::Tag => Ok(
            Rule::new(VersionField::Tag(key.to_owned()), Kind::Text, TEXT, "a tag")
                .absent_is_unequal(),
        ),
        _ => Err(refuse_prefix("model versions", prefix, ALLOWED)),
    }
}

/// A parsed `model-versions/search` filter (the client sends `name='fraud-model'`).
/// The default filter matches every version.
#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    conditions: Vec<Condition<VersionField>>,
}

impl VersionFilter {
    /// Parses a model-version filter: `name` and `run_id` with `= != LIKE ILIKE IN NOT IN`,
    /// `version_number` with numeric operators, `source_path` and `tags.<key>` with
    /// `= != LIKE ILIKE`.
    ///
    /// # Errors
    ///
    /// [`FilterError`] for any other key or operator, or a malformed filter.
    pub fn parse(filter: &str) -> Result<VersionFilter, FilterError> {
        Ok(VersionFilter {
            conditions: compile(filter, resolve_version)?,
        })
    }

    /// Whether the version satisfies every clause. A version without a `run_id` matches
    /// no `run_id` clause; one without a tag matches `tags.k != 'v'`.
    pub fn matches(&self, version: &VersionFacts<'_>) -> bool {
        self.conditions.iter().all(|c| {
            c.holds(match &c.field {
                VersionField::Name => Seen::Text(Some(version.name)),
                VersionField::RunId => Seen::Text(version.run_id),
                VersionField::Version => Seen::Number(Some(version.version as f64)),
                VersionField::Source => Seen::Text(Some(version.source)),
                VersionField::Tag(k) => Seen::Text(version.tags.get(k.as_str()).copied()),
            })
        })
    }
}

// ---------------------------------------------------------------------------------------
// Logged models
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum LoggedModelField {
    ModelId,
    Name,
    ModelType,
    Status,
    SourceRunId,
    Created,
    Updated,
    Metric(String),
    Param(String),
    Tag(String),
}

fn resolve_logged_model(prefix: Prefix, key: &str) -> Result<Rule<LoggedModelField>, String> {
    use LoggedModelField as F;
    let key_owned = key.to_owned();
    Ok(match prefix {
        Prefix::Metric => Rule::new(F::Metric(key_owned), Kind::Number, NUMERIC, "a metric"),
        Prefix::Param => Rule::new(F::Param(key_owned), Kind::Text, TEXT_OR_NULL, "a param"),
        Prefix::Tag => Rule::new(F::Tag(key_owned), Kind::Text, TEXT_OR_NULL, "a tag"),
        Prefix::Bare | Prefix::Attribute => {
            let (field, kind, ops) = match key {
                "model_id" => (F::ModelId, Kind::Text, TEXT),
                "name" => (F::Name, Kind::Text, TEXT),
                "model_type" => (F::ModelType, Kind::Text, TEXT),
                "status" => (F::Status, Kind::Text, TEXT),
                "source_run_id" => (F::SourceRunId, Kind::Text, TEXT),
                "creation_timestamp" | "creation_time" => (F::Created, Kind::Number, NUMERIC),
                "last_updated_timestamp" => (F::Updated, Kind::Number, NUMERIC),
                _ => {
                    return Err(format!(
                        "unknown attribute `{key}`; logged models have model_id, name, \
                         model_type, status, source_run_id, creation_timestamp and \
                         last_updated_timestamp (prefix metrics., params. or tags. for those)"
                    ))
                }
            };
            Rule::new(field, kind, ops, attribute(key))
        }
        Prefix::Dataset => {
            return Err(refuse_prefix(
                "logged models",
                prefix,
                "their attributes, metrics, params and tags",
            ))
        }
    })
}

/// A parsed `logged-models/search` filter; the client resolves `runs:/<run>/model` with
/// `name = 'model'`. The default filter matches every logged model.
#[derive(Debug, Clone, Default)]
pub struct LoggedModelFilter {
    conditions: Vec<Condition<LoggedModelField>>,
}

impl LoggedModelFilter {
    /// Parses a logged-model filter: string attributes `model_id name model_type status
    /// source_run_id`, numeric `creation_timestamp` (or `creation_time`) and
    /// `last_updated_timestamp`, and `metrics.`, `params.` and `tags.` keys as for runs.
    ///
    /// # Errors
    ///
    /// [`FilterError`] for any other key or operator, or a malformed filter.
    pub fn parse(filter: &str) -> Result<LoggedModelFilter, FilterError> {
        Ok(LoggedModelFilter {
            conditions: compile(filter, resolve_logged_model)?,
        })
    }

    /// Whether the logged model satisfies every clause; absent values (`model_type`,
    /// `source_run_id`, a metric, param or tag) match only `IS NULL`.
    pub fn matches(&self, model: &LoggedModelFacts<'_>) -> bool {
        use LoggedModelField as F;
        self.conditions.iter().all(|c| {
            c.holds(match &c.field {
                F::ModelId => Seen::Text(Some(model.model_id)),
                F::Name => Seen::Text(Some(model.name)),
                F::ModelType => Seen::Text(model.model_type),
                F::Status => Seen::Text(Some(model.status)),
                F::SourceRunId => Seen::Text(model.source_run_id),
                F::Created => Seen::Number(Some(model.creation_timestamp as f64)),
                F::Updated => Seen::Number(Some(model.last_updated_timestamp as f64)),
                F::Metric(k) => Seen::Number(model.metrics.get(k.as_str()).copied()),
                F::Param(k) => Seen::Text(model.params.get(k.as_str()).copied()),
                F::Tag(k) => Seen::Text(model.tags.get(k.as_str()).copied()),
            })
        })
    }
}

//! MLflow's search grammar for runs: `metrics.x > 1 AND params.lr = '0.01' AND tags.k LIKE 'a%'
//! AND attributes.status IN ('FINISHED', 'RUNNING')`, and `order_by` clauses such as
//! `metrics.sharpe DESC`.

use std::cmp::Ordering;

use crate::error::{ApiError, ApiResult};
use crate::store::Run;

/// Which part of a run a clause looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum Entity {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    List(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub entity: Entity,
    pub op: Op,
    pub value: Value,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter(msg.into())
}

/// A token of a filter and the 1-based character position it starts at, for error messages.
struct Token {
    text: String,
    at: usize,
}

/// Splits the filter into tokens, keeping quoted strings, backticked names and parentheses whole.
fn tokens(filter: &str) -> ApiResult<Vec<Token>> {
    let mut out = Vec::new();
    let chars: Vec<char> = filter.chars().collect();
    let mut push =
        |start: usize, end: usize| out.push(Token { text: chars[start..end].iter().collect(), at: start + 1 });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i == chars.len() {
                return Err(bad(format!("Invalid filter '{filter}': a quote never closed at position {}", start + 1)));
            }
            i += 1;
            push(start, i);
        } else if c == '(' || c == ')' || c == ',' {
            push(i, i + 1);
            i += 1;
        } else if "<>=!".contains(c) {
            let start = i;
            while i < chars.len() && "<>=!".contains(chars[i]) {
                i += 1;
            }
            push(start, i);
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"<>=!(),".contains(chars[i]) {
                if chars[i] == '`' {
                    // A backticked key inside a dotted name: metrics.`my key`.
                    i += 1;
                    while i < chars.len() && chars[i] != '`' {
                        i += 1;
                    }
                }
                i += 1;
            }
            push(start, i.min(chars.len()));
        }
    }
    Ok(out)
}

fn unquote(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    if (first == '\'' || first == '"' || first == '`') && s.ends_with(first) && s.len() >= 2 {
        Some(s[1..s.len() - 1].to_string())
    } else {
        None
    }
}

/// `metrics.x`, `params."a b"`, `tags.\`k\``, `attributes.status`, `run_name` (an attribute).
pub fn parse_entity(text: &str) -> ApiResult<Entity> {
    let (prefix, key) = match text.split_once('.') {
        Some((p, k)) => (p.to_ascii_lowercase(), k.to_string()),
        None => ("attributes".to_string(), text.to_string()),
    };
    let key = unquote(&key).unwrap_or(key);
    if key.is_empty() {
        return Err(bad(format!("Invalid identifier '{text}'")));
    }
    Ok(match prefix.as_str() {
        "metric" | "metrics" => Entity::Metric(key),
        "param" | "params" | "parameter" | "parameters" => Entity::Param(key),
        "tag" | "tags" => Entity::Tag(key),
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute(key),
        other => {
            return Err(bad(format!(
                "Invalid entity type '{other}'. Valid values are metrics, params, tags, attributes"
            )));
        }
    })
}

/// Parses a filter string; an empty filter matches every run. Errors name the 1-based
/// character position of the offending token (or the end of the filter when something is missing).
pub fn parse_filter(filter: &str) -> ApiResult<Vec<Clause>> {
    let toks = tokens(filter)?;
    let end = filter.chars().count() + 1;
    let at = |pos: usize, reason: String| bad(format!("Invalid filter '{filter}': {reason} at position {pos}"));
    let text = |j: usize| toks.get(j).map(|t| t.text.as_str());
    let pos = |j: usize| toks.get(j).map_or(end, |t| t.at);
    let mut clauses = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let entity = parse_entity(&toks[i].text).map_err(|e| at(toks[i].at, e.to_string()))?;
        let op_text = text(i + 1).ok_or_else(|| at(end, "missing comparator".into()))?;
        let (op, mut j) = match op_text.to_ascii_uppercase().as_str() {
            "=" | "==" => (Op::Eq, i + 2),
            "!=" => (Op::Ne, i + 2),
            "<" => (Op::Lt, i + 2),
            ">" => (Op::Gt, i + 2),
            "<=" => (Op::Le, i + 2),
            ">=" => (Op::Ge, i + 2),
            "LIKE" => (Op::Like, i + 2),
            "ILIKE" => (Op::ILike, i + 2),
            "IN" => (Op::In, i + 2),
            "NOT" if text(i + 2).is_some_and(|t| t.eq_ignore_ascii_case("IN")) => (Op::NotIn, i + 3),
            other => return Err(at(pos(i + 1), format!("invalid comparator '{other}'"))),
        };
        let value = if matches!(op, Op::In | Op::NotIn) {
            if text(j) != Some("(") {
                return Err(at(pos(j), "IN needs a parenthesised list".into()));
            }
            j += 1;
            let mut items = Vec::new();
            while let Some(t) = text(j) {
                match t {
                    ")" => break,
                    "," => {}
                    v => items
                        .push(unquote(v).ok_or_else(|| at(pos(j), format!("invalid list value {v}: quote strings")))?),
                }
                j += 1;
            }
            if text(j) != Some(")") {
                return Err(at(end, "unclosed list".into()));
            }
            j += 1;
            Value::List(items)
        } else {
            let v = text(j).ok_or_else(|| at(end, "missing value".into()))?;
            let v_at = pos(j);
            j += 1;
            match (&entity, unquote(v)) {
                (Entity::Metric(_), quoted) => Value::Number(
                    quoted
                        .is_none()
                        .then(|| v.parse().ok())
                        .flatten()
                        .ok_or_else(|| at(v_at, format!("expected numeric value type for metric, found {v}")))?,
                ),
                (_, Some(text)) => Value::Text(text),
                (Entity::Attribute(k), None) if is_numeric_attribute(k) => {
                    Value::Number(v.parse().map_err(|_| at(v_at, format!("expected a number for {k}, found {v}")))?)
                }
                (_, None) => return Err(at(v_at, format!("value {v} must be quoted: '{v}'"))),
            }
        };
        clauses.push(Clause { entity, op, value });
        i = j;
        match text(i) {
            None => {}
            Some(t) if t.eq_ignore_ascii_case("AND") => {
                i += 1;
                if i == toks.len() {
                    return Err(at(end, "a clause must follow AND".into()));
                }
            }
            Some(t) => return Err(at(pos(i), format!("expected AND, found '{t}'"))),
        }
    }
    Ok(clauses)
}

fn is_numeric_attribute(key: &str) -> bool {
    // Runs' times, and logged models' (MLflow 3).
    matches!(
        key,
        "start_time"
            | "end_time"
            | "created"
            | "creation_timestamp_ms"
            | "creation_timestamp"
            | "creation_time"
            | "last_updated_timestamp_ms"
            | "last_updated_timestamp"
    )
}

/// SQL LIKE with % and _ (case-sensitive; ILIKE lowercases both sides first).
pub fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|k| go(&t[k..], &p[1..])),
            Some('_') => !t.is_empty() && go(&t[1..], &p[1..]),
            Some(c) => t.first() == Some(c) && go(&t[1..], &p[1..]),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

pub(crate) fn compare_text(actual: &str, op: Op, value: &Value) -> bool {
    match (op, value) {
        (Op::Eq, Value::Text(v)) => actual == v,
        (Op::Ne, Value::Text(v)) => actual != v,
        (Op::Like, Value::Text(v)) => like(actual, v),
        (Op::ILike, Value::Text(v)) => like(&actual.to_lowercase(), &v.to_lowercase()),
        (Op::In, Value::List(vs)) => vs.iter().any(|v| v == actual),
        (Op::NotIn, Value::List(vs)) => !vs.iter().any(|v| v == actual),
        (Op::Lt, Value::Text(v)) => actual < v.as_str(),
        (Op::Gt, Value::Text(v)) => actual > v.as_str(),
        (Op::Le, Value::Text(v)) => actual <= v.as_str(),
        (Op::Ge, Value::Text(v)) => actual >= v.as_str(),
        _ => false,
    }
}

pub(crate) fn compare_number(actual: f64, op: Op, value: &Value) -> bool {
    let Value::Number(v) = value else { return false };
    match op {
        Op::Eq => actual == *v,
        Op::Ne => actual != *v,
        Op::Lt => actual < *v,
        Op::Gt => actual > *v,
        Op::Le => actual <= *v,
        Op::Ge => actual >= *v,
        _ => false,
    }
}

/// Whether a run satisfies every clause (a run without the key never matches, as in MLflow).
pub fn matches(run: &Run, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match &c.entity {
        Entity::Metric(k) => run.metrics.get(k).is_some_and(|m| compare_number(m.value, c.op, &c.value)),
        Entity::Param(k) => run.params.get(k).is_some_and(|v| compare_text(v, c.op, &c.value)),
        Entity::Tag(k) => run.tags.get(k).is_some_and(|v| compare_text(v, c.op, &c.value)),
        Entity::Attribute(k) => match k.as_str() {
            "start_time" => compare_number(run.start_time as f64, c.op, &c.value),
            "end_time" => run.end_time.is_some_and(|t| compare_number(t as f64, c.op, &c.value)),
            other => run.attribute(other).is_some_and(|v| compare_text(&v, c.op, &c.value)),
        },
    })
}

/// One `order_by` term.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy {
    pub entity: Entity,
    pub ascending: bool,
}

pub fn parse_order_by(items: &[String]) -> ApiResult<Vec<OrderBy>> {
    items
        .iter()
        .map(|item| {
            let mut parts = item.split_whitespace();
            let entity = parse_entity(parts.next().ok_or_else(|| bad("Invalid order_by clause ''"))?)?;
            let ascending = match parts.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => true,
                Some("DESC") => false,
                Some(other) => return Err(bad(format!("Invalid ordering key '{other}' in order_by '{item}'"))),
            };
            Ok(OrderBy { entity, ascending })
        })
        .collect()
}

/// MLflow's default order: start time descending, then run id.
pub fn sort_runs(runs: &mut [Run], order: &[OrderBy]) {
    runs.sort_by(|a, b| {
        for o in order {
            let key = |r: &Run| -> Option<SortKey> {
                match &o.entity {
                    Entity::Metric(k) => r.metrics.get(k).map(|m| SortKey::Num(m.value)),
                    Entity::Param(k) => r.params.get(k).cloned().map(SortKey::Text),
                    Entity::Tag(k) => r.tags.get(k).cloned().map(SortKey::Text),
                    Entity::Attribute(k) => match k.as_str() {
                        "start_time" => Some(SortKey::Num(r.start_time as f64)),
                        "end_time" => r.end_time.map(|t| SortKey::Num(t as f64)),
                        other => r.attribute(other).map(SortKey::Text),
                    },
                }
            };
            let ord = SortKey::compare_missing_last(key(a), key(b), o.ascending);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        b.start_time.cmp(&a.start_time).then_with(|| a.run_id.cmp(&b.run_id))
    });
}

#[derive(PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    Num(f64),
    Text(String),
}

impl SortKey {
    /// Orders two keys in the given direction; a missing key sorts last whichever the direction.
    pub(crate) fn compare_missing_last(a: Option<Self>, b: Option<Self>, ascending: bool) -> Ordering {
        match (a, b) {
            (Some(x), Some(y)) => {
                let o = x.cmp(&y);
                if ascending { o } else { o.reverse() }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }

    /// Numbers by value (-0 equals 0) with NaN above every number, as both databases order
    /// them (PostgreSQL natively, SQLite through its NULL-for-NaN), so a search ordered in SQL
    /// and one ordered here agree; text in byte order.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => match (a.is_nan(), b.is_nan()) {
                (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
            },
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            (Self::Num(_), Self::Text(_)) => Ordering::Less,
            (Self::Text(_), Self::Num(_)) => Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_parses_every_comparator_and_refuses_nonsense() {
        let c = parse_filter("metrics.sharpe > 1.5 and params.lr = '0.01' AND tags.`my tag` LIKE 'a%' and attributes.status IN ('FINISHED','RUNNING') and run_name != 'x'").unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(c[0], Clause { entity: Entity::Metric("sharpe".into()), op: Op::Gt, value: Value::Number(1.5) });
        assert_eq!(c[2].entity, Entity::Tag("my tag".into()));
        assert_eq!(c[3].value, Value::List(vec!["FINISHED".into(), "RUNNING".into()]));
        assert_eq!(c[4].entity, Entity::Attribute("run_name".into()));
        assert!(parse_filter("metrics.x > 'a'").is_err(), "metrics compare to numbers");
        assert!(parse_filter("params.lr = 0.01").unwrap_err().to_string().contains("must be quoted"));
        assert!(parse_filter("metrics.x >> 1").is_err());
        assert!(parse_filter("foo.x = 'a'").unwrap_err().to_string().contains("Invalid entity type"));
        assert!(parse_filter("metrics.x > 1 or metrics.y > 2").is_err(), "only AND joins clauses");
        assert!(parse_filter("").unwrap().is_empty());
    }

    #[test]
    fn a_malformed_filter_is_refused_with_the_position_of_the_error() {
        let position = |filter: &str| {
            let message = parse_filter(filter).unwrap_err().to_string();
            let n = message.rsplit("at position ").next().and_then(|p| p.parse::<usize>().ok());
            n.unwrap_or_else(|| panic!("no position in {message}"))
        };
        // 1-based character positions of the offending token.
        assert_eq!(position("metrics.x >> 1"), 11, "the bad comparator");
        assert_eq!(position("metrics.x > 1 or metrics.y > 2"), 15, "the word where AND belongs");
        assert_eq!(position("params.lr = 0.01"), 13, "the unquoted value");
        assert_eq!(position("metrics.x > 'a'"), 13, "a text value for a metric");
        assert_eq!(position("metrics.x > 1 and foo.y = 'a'"), 19, "the unknown entity");
        assert_eq!(position("params.a IN 'x'"), 13, "IN without a list");
        assert_eq!(position("params.a IN ('x', y)"), 19, "an unquoted list value");
        assert_eq!(position("tags.k = 'abc"), 10, "the quote never closed");
        // Something missing is reported at the end of the filter.
        assert_eq!(position("metrics.x >"), 12);
        assert_eq!(position("metrics.x"), 10);
        assert_eq!(position("params.a IN ('x'"), 17);
        assert_eq!(position("metrics.x > 1 AND"), 18);
        // Positions count characters, not bytes.
        assert_eq!(position("tags.é = 'ü' and x >> 1"), 20);
    }

    #[test]
    fn like_follows_sql() {
        assert!(like("sma_cross", "sma%"));
        assert!(like("sma_cross", "%cross"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(!like("ABC", "abc"));
    }
}

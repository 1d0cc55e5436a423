//! SQLite rows folded into one text per run: `group_concat` of SQL literals (`quote()`), read
//! back exactly. sqlx hands each SQLite row from its worker thread to the async task one by
//! one, a thread wake-up per row; a search page of 100 runs with 100 metrics each was 10,000
//! wake-ups, most of its time. Folded, it is 100 rows.
//!
//! `quote()` writes a REAL with enough digits to read back as the same double (SQLite checks
//! the round trip and widens to 20 digits when 15 are not enough), a TEXT as a quoted literal
//! with `''` for a quote, and a NaN (stored as NULL) as `NULL`.

use crate::error::{ApiError, ApiResult};

/// One SQL literal as `quote()` writes it.
#[derive(Debug, PartialEq)]
pub(crate) enum Literal {
    Null,
    Text(String),
    /// A number as written (an INTEGER or a REAL).
    Number(String),
}

impl Literal {
    pub fn into_text(self) -> ApiResult<String> {
        match self {
            Self::Text(t) => Ok(t),
            other => Err(corrupt(format!("expected text, found {other:?}"))),
        }
    }

    /// A REAL, with NULL as NaN (how SQLite keeps a NaN) and ±9.0e+999 as ±infinity.
    pub fn into_f64(self) -> ApiResult<f64> {
        match self {
            Self::Null => Ok(f64::NAN),
            Self::Number(n) => n.parse().map_err(|_| corrupt(format!("`{n}` is not a number"))),
            Self::Text(t) => Err(corrupt(format!("expected a number, found '{t}'"))),
        }
    }

    pub fn into_i64(self) -> ApiResult<i64> {
        match self {
            Self::Number(n) => n.parse().map_err(|_| corrupt(format!("`{n}` is not an integer"))),
            other => Err(corrupt(format!("expected an integer, found {other:?}"))),
        }
    }
}

fn corrupt(reason: String) -> ApiError {
    ApiError::Internal(format!("reading folded rows: {reason}"))
}

/// The SQL expression folding `columns` of each row into one comma-separated text of literals.
pub(crate) fn fold(columns: &[&str]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("quote({c})")).collect();
    format!("group_concat({}, ',')", quoted.join(" || ',' || "))
}

/// The literals of a folded text, in order.
pub(crate) fn literals(text: &str) -> ApiResult<Vec<Literal>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some((_, '\'')) if chars.peek().is_some_and(|&(_, n)| n == '\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some((_, '\'')) => break,
                    Some((_, ch)) => s.push(ch),
                    None => return Err(corrupt(format!("unterminated text from byte {start}"))),
                }
            }
            out.push(Literal::Text(s));
        } else {
            let end = text[start..].find(',').map_or(text.len(), |k| start + k);
            let token = &text[start..end];
            out.push(if token == "NULL" { Literal::Null } else { Literal::Number(token.to_string()) });
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
        }
        match chars.next() {
            None => break,
            Some((_, ',')) => {}
            Some((i, ch)) => return Err(corrupt(format!("expected ',' at byte {i}, found '{ch}'"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_texts_with_quotes_and_commas_numbers_and_nulls() {
        let got = literals("'a,b','it''s',0.1,NULL,-9.0e+999,'',42").unwrap();
        assert_eq!(
            got,
            vec![
                Literal::Text("a,b".into()),
                Literal::Text("it's".into()),
                Literal::Number("0.1".into()),
                Literal::Null,
                Literal::Number("-9.0e+999".into()),
                Literal::Text(String::new()),
                Literal::Number("42".into()),
            ]
        );
        assert_eq!(Literal::Number("-9.0e+999".into()).into_f64().unwrap(), f64::NEG_INFINITY);
        assert!(Literal::Null.into_f64().unwrap().is_nan());
        assert!(literals("'open").is_err());
        assert!(literals("'a'b").is_err());
        assert_eq!(literals("").unwrap(), vec![]);
    }
}

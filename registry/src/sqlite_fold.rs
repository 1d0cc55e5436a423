//! SQLite rows folded into one text per run: `group_concat` of SQL literals (`quote()`), read
//! back exactly. sqlx hands each SQLite row from its worker thread to the async task one by
//! one, a thread wake-up per row; a search page of 100 runs with 100 metrics each was 10,000
//! wake-ups, most of its time. Folded, it is 100 rows.
//!
//! `quote()` writes a REAL with enough digits to read back as the same double (SQLite checks
//! the round trip and widens to 20 digits when 15 are not enough), a TEXT as a quoted literal
//! with `''` for a quote, and a NaN (stored as NULL) as `NULL`.

use crate::error::{ApiError, ApiResult};

/// One SQL literal as `quote()` writes it; a number borrows its digits from the folded text.
#[derive(Debug, PartialEq)]
pub(crate) enum Literal<'a> {
    Null,
    Text(String),
    /// A number as written (an INTEGER or a REAL).
    Number(&'a str),
}

impl Literal<'_> {
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

    /// A metric's value folded as `ifnull(value_bits, value)`: an INTEGER is the value's
    /// IEEE-754 bits, anything else is read as [`Self::into_f64`]. The two cannot be confused:
    /// `quote()` always writes a REAL with a decimal point or an exponent.
    pub fn into_metric_value(self) -> ApiResult<f64> {
        match self {
            Self::Number(n) if !n.contains(['.', 'e', 'E']) => {
                let bits: i64 = n.parse().map_err(|_| corrupt(format!("`{n}` is not a metric's bits")))?;
                Ok(f64::from_bits(bits as u64))
            }
            other => other.into_f64(),
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

/// The literals of a folded text, in order. It is read as bytes: every delimiter is ASCII, so
/// each cut falls between characters and the pieces stay UTF-8.
pub(crate) fn literals(text: &str) -> ApiResult<Vec<Literal<'_>>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'\'' {
            let start = at;
            let mut s = String::new();
            at += 1;
            loop {
                let Some(k) = bytes[at..].iter().position(|&b| b == b'\'') else {
                    return Err(corrupt(format!("unterminated text from byte {start}")));
                };
                s.push_str(&text[at..at + k]);
                at += k + 1;
                // A doubled quote is one quote inside the text.
                if bytes.get(at) == Some(&b'\'') {
                    s.push('\'');
                    at += 1;
                } else {
                    break;
                }
            }
            out.push(Literal::Text(s));
        } else {
            let end = bytes[at..].iter().position(|&b| b == b',').map_or(bytes.len(), |k| at + k);
            let token = &text[at..end];
            out.push(if token == "NULL" { Literal::Null } else { Literal::Number(token) });
            at = end;
        }
        match bytes.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => {
                let ch = text[at..].chars().next().unwrap_or_default();
                return Err(corrupt(format!("expected ',' at byte {at}, found '{ch}'")));
            }
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
                Literal::Number("0.1"),
                Literal::Null,
                Literal::Number("-9.0e+999"),
                Literal::Text(String::new()),
                Literal::Number("42"),
            ]
        );
        assert_eq!(Literal::Number("-9.0e+999").into_f64().unwrap(), f64::NEG_INFINITY);
        assert!(Literal::Null.into_f64().unwrap().is_nan());
        for v in [0.1, -0.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, f64::NEG_INFINITY, 1.0] {
            let bits = (v.to_bits() as i64).to_string();
            assert_eq!(Literal::Number(&bits).into_metric_value().unwrap().to_bits(), v.to_bits(), "{v} from its bits");
        }
        let nan_bits = (f64::NAN.to_bits() as i64).to_string();
        let nan = Literal::Number(&nan_bits).into_metric_value().unwrap();
        assert!(nan.is_nan());
        assert_eq!(Literal::Number("1.0").into_metric_value().unwrap(), 1.0, "a row from before the bits");
        assert_eq!(Literal::Number("-9.0e+999").into_metric_value().unwrap(), f64::NEG_INFINITY);
        assert!(Literal::Null.into_metric_value().unwrap().is_nan());
        assert_eq!(
            literals("'ключ, ''é''',NULL").unwrap(),
            vec![Literal::Text("ключ, 'é'".into()), Literal::Null],
            "non-ASCII text keeps its characters"
        );
        assert!(literals("'open").is_err());
        assert!(literals("'it''").is_err());
        assert!(literals("'a'b").is_err());
        assert_eq!(literals("").unwrap(), vec![]);
    }
}

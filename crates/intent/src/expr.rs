//! Adaptation rule expressions: `dora.change_failure_rate(30d) > 15%`.
//!
//! Grammar (whitespace-insensitive; `and` binds tighter than `or`):
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := primary ("and" primary)*
//! primary := "(" expr ")" | compare
//! compare := METRIC [ "(" DURATION ")" ] CMP VALUE
//! ```
//!
//! `METRIC` is a catalog name; the optional duration is the window. `VALUE`
//! is any [`Quantity`], which may contain spaces (`100 USD`).

use std::fmt;

use crate::units::{Comparator, Duration, Quantity};

/// A parsed adaptation condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare(Comparison),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// `metric(window) cmp value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub metric: String,
    pub window: Option<Duration>,
    pub cmp: Comparator,
    pub value: Quantity,
}

impl Expr {
    /// Every comparison in the expression, left to right.
    pub fn comparisons(&self) -> Vec<&Comparison> {
        match self {
            Expr::Compare(c) => vec![c],
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut v = a.comparisons();
                v.extend(b.comparisons());
                v
            }
        }
    }

    /// Evaluates with a lookup giving a metric's value in base units; a
    /// comparison whose metric has no value is false.
    pub fn eval(&self, value_of: &mut dyn FnMut(&Comparison) -> Option<f64>) -> bool {
        match self {
            Expr::Compare(c) => value_of(c).is_some_and(|v| c.cmp.holds(v, c.value.base_value())),
            Expr::And(a, b) => a.eval(value_of) && b.eval(value_of),
            Expr::Or(a, b) => a.eval(value_of) || b.eval(value_of),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare(c) => {
                write!(f, "{}", c.metric)?;
                if let Some(w) = c.window {
                    write!(f, "({w})")?;
                }
                write!(f, " {} {}", c.cmp.symbol(), c.value)
            }
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
        }
    }
}

/// A parse error with the byte offset in the expression where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

/// Parses an adaptation expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser { src, pos: 0 };
    let e = p.or()?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.err(format!(
            "unexpected `{}`; expected `and`, `or` or the end",
            p.rest()
        )));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }
    fn err(&self, message: String) -> ExprError {
        ExprError {
            offset: self.pos,
            message,
        }
    }
    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let r = self.rest();
        let matches = r
            .get(..kw.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(kw))
            && r.get(kw.len()..)
                .and_then(|x| x.chars().next())
                .is_none_or(|c| c.is_whitespace() || c == '(');
        if matches {
            self.pos += kw.len();
        }
        matches
    }
    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.primary()?;
        while self.keyword("and") {
            let right = self.primary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn primary(&mut self) -> Result<Expr, ExprError> {
        self.skip_ws();
        if self.rest().starts_with('(') {
            self.pos += 1;
            let e = self.or()?;
            self.skip_ws();
            if !self.rest().starts_with(')') {
                return Err(self.err("expected `)`".into()));
            }
            self.pos += 1;
            return Ok(e);
        }
        self.comparison().map(Expr::Compare)
    }
    fn comparison(&mut self) -> Result<Comparison, ExprError> {
        self.skip_ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(self.rest().len());
        if len == 0 {
            let found = if self.rest().is_empty() {
                "the end of the expression".to_string()
            } else {
                format!("`{}`", self.rest())
            };
            return Err(self.err(format!(
                "expected a metric name such as `dora.change_failure_rate`, found {found}"
            )));
        }
        let metric = self.src[start..start + len].to_string();
        self.pos += len;
        let mut window = None;
        if self.rest().starts_with('(') {
            let close = self
                .rest()
                .find(')')
                .ok_or_else(|| self.err("expected `)` after the window".into()))?;
            let inner = &self.rest()[1..close];
            let w = inner.trim().parse::<Duration>().map_err(|e| ExprError {
                offset: self.pos + 1,
                message: format!("invalid window for `{metric}`: {}", e.message),
            })?;
            window = Some(w);
            self.pos += close + 1;
        }
        self.skip_ws();
        let (cmp, after) = Comparator::split_prefix(self.rest()).ok_or_else(|| {
            self.err(format!(
                "expected a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`) after `{metric}`, found `{}`",
                self.rest()
            ))
        })?;
        self.pos = self.src.len() - after.len();
        self.skip_ws();
        let value_start = self.pos;
        // The value runs until a `)`, a word `and` / `or`, or the end.
        let end = value_end(self.src, value_start);
        let text = self.src[value_start..end].trim();
        if text.is_empty() {
            return Err(self.err(format!(
                "expected a value after `{metric} {}`, e.g. `15%`, `1d` or `0`",
                cmp.symbol()
            )));
        }
        let value = text.parse::<Quantity>().map_err(|e| ExprError {
            offset: value_start,
            message: e.message,
        })?;
        self.pos = end;
        Ok(Comparison {
            metric,
            window,
            cmp,
            value,
        })
    }
}

/// Where a comparison's value ends: before `)`, before a whole word `and` or
/// `or` that follows whitespace, or at the end.
fn value_end(src: &str, start: usize) -> usize {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() {
        if b[i] == b')' {
            return i;
        }
        if i > start && b[i - 1].is_ascii_whitespace() {
            for kw in [&b"and"[..], &b"or"[..]] {
                let word = b
                    .get(i..i + kw.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(kw));
                let after = b.get(i + kw.len());
                if word && after.is_none_or(|c| c.is_ascii_whitespace() || *c == b'(') {
                    return i;
                }
            }
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_design_examples() {
        let e = parse("dora.change_failure_rate(30d) > 15%").unwrap();
        let c = &e.comparisons()[0];
        assert_eq!(c.metric, "dora.change_failure_rate");
        assert_eq!(c.window, Some(Duration::from_days(30)));
        assert_eq!(c.cmp, Comparator::Gt);
        let e = parse("slo.error_budget_remaining < 0 and cost.monthly > 100 USD").unwrap();
        assert!(matches!(e, Expr::And(_, _)));
        assert_eq!(e.comparisons().len(), 2);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "> 15%",
            "dora.change_failure_rate(30x) > 1%",
            "x >",
            "x 5",
            "(a > 1",
            "a > 1 b",
            "a < 0 and",
            "a < and b > 1",
            "a > 1 or ()",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
    }
    mod props {
        use proptest::prelude::*;

        use super::super::*;
        use crate::units::{Money, Percent, Period, Rate};

        fn comparison() -> impl Strategy<Value = Expr> {
            let metric = proptest::sample::select(
                crate::catalog::METRICS
                    .iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>(),
            );
            let window = proptest::option::of((1u64..1000).prop_map(Duration::from_days));
            let cmp = proptest::sample::select(Comparator::ALL.to_vec());
            let value = prop_oneof![
                (0u64..100_000).prop_map(|s| Quantity::Duration(Duration::from_secs(s))),
                (-1000i32..1000).prop_map(|v| Quantity::Percent(Percent(f64::from(v) / 10.0))),
                // `AND` would read as the keyword; no currency is called that.
                (
                    0u32..100_000,
                    "[A-Z]{3}".prop_filter("keyword", |c| c != "AND")
                )
                    .prop_map(|(a, currency)| Quantity::Money(Money {
                        amount: f64::from(a),
                        currency
                    })),
                (0u32..100, proptest::sample::select(Period::ALL.to_vec())).prop_map(|(c, per)| {
                    Quantity::Rate(Rate {
                        count: f64::from(c),
                        per,
                    })
                }),
                (-1000i32..1000).prop_map(|v| Quantity::Number(f64::from(v))),
            ];
            (metric, window, cmp, value).prop_map(|(metric, window, cmp, value)| {
                Expr::Compare(Comparison {
                    metric: metric.to_string(),
                    window,
                    cmp,
                    value,
                })
            })
        }

        fn expr() -> impl Strategy<Value = Expr> {
            comparison().prop_recursive(3, 12, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
                ]
            })
        }

        proptest! {
            #[test]
            fn display_parses_back(e in expr()) {
                prop_assert_eq!(parse(&e.to_string()), Ok(e));
            }
        }
    }
}

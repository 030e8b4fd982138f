//! Typed values with units, parsed once from their text form.
//!
//! Intent files write quantities as short strings: durations (`90s`, `1h`,
//! `30d`), percentages (`15%`, `99.9%`), money (`12000 USD`), rates
//! (`5/week`) and targets (`<= 1d`, `>= 5/week`, `== 0`). Each type here
//! parses that form, prints it back (`parse(display(x)) == x`), and
//! serialises as the same string.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What went wrong parsing a unit value: says what was found and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UnitError {
    pub message: String,
}

impl UnitError {
    /// `what` names the kind of value, `hint` says what to write instead.
    fn new(found: &str, (what, hint): (&str, &str)) -> Self {
        UnitError {
            message: format!("invalid {what} `{}`; expected {hint}", found.trim()),
        }
    }
}

const DURATION: (&str, &str) = (
    "duration",
    "a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `90s`, `1h`, `30d`",
);
const PERCENT: (&str, &str) = (
    "percentage",
    "a number followed by `%`, e.g. `15%`, `99.9%`",
);
const MONEY: (&str, &str) = (
    "money amount",
    "an amount and a currency code, e.g. `12000 USD`",
);
const RATE: (&str, &str) = (
    "rate",
    "a count per `hour`, `day`, `week` or `month`, e.g. `5/week`",
);
const QUANTITY: (&str, &str) = (
    "value",
    "a number, a duration `1d`, a percentage `15%`, money `100 USD` or a rate `5/week`",
);

/// A span of time, stored in whole seconds, at most [`Duration::MAX`].
///
/// The bound is what keeps time arithmetic safe: any time Bearing accepts
/// (see [`EARLIEST`] and [`LATEST`]) plus or minus any duration stays far
/// inside what `chrono` can represent, so `now - window` cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    secs: u64,
}

/// The earliest date Bearing accepts in the intent (due dates, waiver
/// expiries) and on the command line: the Unix epoch. Event timestamps share
/// the range (`bearing_events::timestamp`).
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// The latest date Bearing accepts: the last day with a four-digit year.
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

const DURATION_UNITS: [(&str, u64); 5] = [
    ("w", 7 * 86_400),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

impl Duration {
    /// The longest duration accepted anywhere (windows, SLAs, `--window`,
    /// `?window=`): 36,500 days, 100 years of 365 days. Longer text is refused
    /// when parsed; the constructors below saturate at it.
    pub const MAX: Duration = Duration {
        secs: MAX_DAYS * 86_400,
    };

    /// `secs` seconds, or [`Duration::MAX`] if longer.
    pub const fn from_secs(secs: u64) -> Self {
        if secs > Self::MAX.secs {
            Self::MAX
        } else {
            Duration { secs }
        }
    }
    /// `h` hours, or [`Duration::MAX`] if longer.
    pub const fn from_hours(h: u64) -> Self {
        Self::from_secs(h.saturating_mul(3_600))
    }
    /// `d` days, or [`Duration::MAX`] if longer.
    pub const fn from_days(d: u64) -> Self {
        Self::from_secs(d.saturating_mul(86_400))
    }
    pub const fn as_secs(self) -> u64 {
        self.secs
    }
    /// The seconds as a signed count, exact since a duration is at most
    /// [`Duration::MAX`] (for arithmetic on Unix timestamps).
    pub const fn as_secs_i64(self) -> i64 {
        self.secs as i64
    }
    pub fn as_days_f64(self) -> f64 {
        self.secs as f64 / 86_400.0
    }
    /// The same span as a `chrono` duration (always representable: at most
    /// [`Duration::MAX`]).
    pub fn to_chrono(self) -> chrono::TimeDelta {
        // MAX is ~3.2e9 s, far below TimeDelta's ~9.2e15 s; the fallback is unreachable.
        i64::try_from(self.secs)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .unwrap_or(chrono::TimeDelta::MAX)
    }
    /// `t - self`, or `None` when that is not a representable time.
    pub fn before(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        t.checked_sub_signed(self.to_chrono())
    }
    /// `t + self`, or `None` when that is not a representable time.
    pub fn after(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        t.checked_add_signed(self.to_chrono())
    }
}

/// [`Duration::MAX`] in days.
const MAX_DAYS: u64 = 36_500;

/// Checks that a date lies in [`EARLIEST`]`..=`[`LATEST`]; the error names it.
pub fn check_date(d: NaiveDate) -> Result<NaiveDate, UnitError> {
    check_date_written(d, &d.to_string())
}

/// [`check_date`] naming the date as the user wrote it.
fn check_date_written(d: NaiveDate, written: &str) -> Result<NaiveDate, UnitError> {
    if (EARLIEST..=LATEST).contains(&d) {
        Ok(d)
    } else {
        Err(UnitError {
            message: format!(
                "date `{}` is out of range; expected a date from {EARLIEST} to {LATEST}",
                written.trim()
            ),
        })
    }
}

impl FromStr for Duration {
    type Err = UnitError;
    /// Accepts `<integer><unit>` with unit one of `s m h d w`, or a
    /// concatenation such as `1h30m`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = DURATION;
        let t = s.trim();
        if t.is_empty() {
            return Err(UnitError::new(s, expected));
        }
        let too_long = || UnitError {
            message: format!(
                "duration `{t}` is too long; expected at most `{MAX_DAYS}d` (100 years)"
            ),
        };
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(UnitError::new(s, expected));
            }
            // Only ASCII digits: the parse fails on overflow alone.
            let n: u64 = rest[..digits].parse().map_err(|_| too_long())?;
            rest = &rest[digits..];
            let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
            let unit = &rest[..unit_len];
            let mult = DURATION_UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, m)| *m)
                .ok_or_else(|| UnitError::new(s, expected))?;
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .filter(|v| *v <= Duration::MAX.secs)
                .ok_or_else(too_long)?;
            rest = &rest[unit_len..];
        }
        Ok(Duration { secs: total })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secs == 0 {
            return write!(f, "0s");
        }
        let mut rest = self.secs;
        for (unit, mult) in DURATION_UNITS {
            if rest >= mult {
                write!(f, "{}{}", rest / mult, unit)?;
                rest %= mult;
            }
        }
        Ok(())
    }
}

/// A percentage; `15%` is stored as `15.0`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    /// The value as a fraction: `15%` → `0.15`.
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl FromStr for Percent {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = PERCENT;
        let t = s.trim();
        let num = t
            .strip_suffix('%')
            .ok_or_else(|| UnitError::new(s, expected))?;
        let v = parse_finite(num.trim()).ok_or_else(|| UnitError::new(s, expected))?;
        Ok(Percent(v))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// An amount of money in a currency (ISO 4217 code, three upper-case letters).
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
}

impl FromStr for Money {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = MONEY;
        let mut parts = s.split_whitespace();
        let (Some(amount), Some(currency), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(UnitError::new(s, expected));
        };
        let amount =
            parse_finite(&amount.replace('_', "")).ok_or_else(|| UnitError::new(s, expected))?;
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(UnitError {
                message: format!(
                    "invalid currency `{currency}` in `{}`; expected a three-letter code such as `USD` or `EUR`",
                    s.trim()
                ),
            });
        }
        Ok(Money {
            amount,
            currency: currency.to_string(),
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// The period of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Hour, Period::Day, Period::Week, Period::Month];
    pub fn name(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
    /// Length in days (a month counts as 30 days).
    pub fn days(self) -> f64 {
        match self {
            Period::Hour => 1.0 / 24.0,
            Period::Day => 1.0,
            Period::Week => 7.0,
            Period::Month => 30.0,
        }
    }
}

/// A count per period: `5/week`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: f64,
    pub per: Period,
}

impl Rate {
    pub fn per_day(self) -> f64 {
        self.count / self.per.days()
    }
}

impl FromStr for Rate {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = RATE;
        let (n, p) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| UnitError::new(s, expected))?;
        let count = parse_finite(n.trim()).ok_or_else(|| UnitError::new(s, expected))?;
        let per = Period::ALL
            .into_iter()
            .find(|x| x.name() == p.trim())
            .ok_or_else(|| UnitError::new(s, expected))?;
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.name())
    }
}

/// Any value a target can compare against.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    Duration(Duration),
    Percent(Percent),
    Money(Money),
    Rate(Rate),
    Number(f64),
}

impl Quantity {
    /// The unit kind, as named in the metric catalog.
    pub fn unit(&self) -> Unit {
        match self {
            Quantity::Duration(_) => Unit::Duration,
            Quantity::Percent(_) => Unit::Percent,
            Quantity::Money(_) => Unit::Money,
            Quantity::Rate(_) => Unit::Rate,
            Quantity::Number(_) => Unit::Count,
        }
    }

    /// The value in the metric engine's base unit: seconds for durations, a
    /// fraction for percentages, the amount for money, events per day for rates.
    pub fn base_value(&self) -> f64 {
        match self {
            Quantity::Duration(d) => d.as_secs() as f64,
            Quantity::Percent(p) => p.fraction(),
            Quantity::Money(m) => m.amount,
            Quantity::Rate(r) => r.per_day(),
            Quantity::Number(n) => *n,
        }
    }
}

impl FromStr for Quantity {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.ends_with('%') {
            return t.parse().map(Quantity::Percent);
        }
        if t.contains('/') {
            return t.parse().map(Quantity::Rate);
        }
        if t.contains(' ') {
            return t.parse().map(Quantity::Money);
        }
        if let Some(n) = parse_finite(t) {
            return Ok(Quantity::Number(n));
        }
        if t.ends_with(|c: char| c.is_ascii_alphabetic())
            && t.starts_with(|c: char| c.is_ascii_digit())
        {
            return t.parse().map(Quantity::Duration);
        }
        Err(UnitError::new(s, QUANTITY))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Duration(v) => v.fmt(f),
            Quantity::Percent(v) => v.fmt(f),
            Quantity::Money(v) => v.fmt(f),
            Quantity::Rate(v) => v.fmt(f),
            Quantity::Number(v) => v.fmt(f),
        }
    }
}

/// The unit kinds metrics are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Duration,
    Percent,
    Money,
    Rate,
    Count,
    /// Dimensionless ratio such as a burn rate (`14.4`).
    Ratio,
}

impl Unit {
    /// The unit's name, the same word its JSON form uses.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Duration => "duration",
            Unit::Percent => "percent",
            Unit::Money => "money",
            Unit::Rate => "rate",
            Unit::Count => "count",
            Unit::Ratio => "ratio",
        }
    }
}

/// Comparison operators in targets and adaptation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Comparator {
    pub const ALL: [Comparator; 6] = [
        Comparator::Le,
        Comparator::Ge,
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Gt,
    ];
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Eq => "==",
            Comparator::Ne => "!=",
        }
    }
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparator::Lt => left < right,
            Comparator::Le => left <= right,
            Comparator::Gt => left > right,
            Comparator::Ge => left >= right,
            Comparator::Eq => (left - right).abs() <= f64::EPSILON * left.abs().max(1.0),
            Comparator::Ne => (left - right).abs() > f64::EPSILON * left.abs().max(1.0),
        }
    }
    /// Whether larger values are better under this comparator (`>=`, `>`).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Comparator::Gt | Comparator::Ge)
    }
    /// Splits a leading comparator off `s` (longest symbol first).
    pub fn split_prefix(s: &str) -> Option<(Comparator, &str)> {
        let t = s.trim_start();
        Comparator::ALL
            .into_iter()
            .find_map(|c| t.strip_prefix(c.symbol()).map(|rest| (c, rest)))
    }
}

/// A key-result target: `<= 1d`, `>= 5/week`, `< 15%`, `== 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub cmp: Comparator,
    pub value: Quantity,
}

impl Target {
    /// Whether a measured value (in base units, see [`Quantity::base_value`]) meets the target.
    pub fn is_met(&self, measured: f64) -> bool {
        self.cmp.holds(measured, self.value.base_value())
    }
}

impl FromStr for Target {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (cmp, rest) = Comparator::split_prefix(s).ok_or_else(|| UnitError {
            message: format!(
                "invalid target `{}`; expected a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`) and a value, e.g. `<= 1d`, `>= 5/week`, `< 15%` or `== 0`",
                s.trim()
            ),
        })?;
        if rest.trim().is_empty() {
            return Err(UnitError {
                message: format!(
                    "invalid target `{}`; expected a value after `{}`, e.g. `{} 1d`, `{} 15%` or `{} 0`",
                    s.trim(),
                    cmp.symbol(),
                    cmp.symbol(),
                    cmp.symbol(),
                    cmp.symbol()
                ),
            });
        }
        let value = rest.parse::<Quantity>().map_err(|e| UnitError {
            message: format!("invalid target `{}`: {}", s.trim(), e.message),
        })?;
        Ok(Target { cmp, value })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.cmp.symbol(), self.value)
    }
}

fn parse_finite(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Serde and JSON Schema support: every unit type is a string in YAML and JSON.
macro_rules! string_serde {
    ($ty:ty, $desc:expr, $pattern:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Plain YAML numbers are accepted too and parsed as text.
                d.deserialize_any(ParseVisitor::<$ty>(std::marker::PhantomData, $desc))
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $desc,
                    "pattern": $pattern,
                })
            }
        }
    };
}

/// Parses a unit value from a string or a plain number inside the visitor, so
/// the deserializer can place the error at the value.
struct ParseVisitor<T>(std::marker::PhantomData<T>, &'static str);

impl<T: FromStr<Err = UnitError>> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let desc = self.1.trim_end_matches('.');
        let mut chars = desc.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}", first.to_lowercase(), chars.as_str())?;
        }
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|e: UnitError| E::custom(e.message))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

/// Dates written `YYYY-MM-DD`, with an error that says so.
pub(crate) mod date {
    use std::fmt;

    use chrono::NaiveDate;
    use serde::Deserializer;

    struct V;

    impl serde::de::Visitor<'_> for V {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date written YYYY-MM-DD")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                E::custom(format!(
                    "invalid date `{}`; expected a date written YYYY-MM-DD, e.g. `2027-03-31`",
                    s.trim()
                ))
            })?;
            super::check_date_written(d, s).map_err(|e| E::custom(e.message))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NaiveDate, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NaiveDate, E> {
            self.visit_str(&v.to_string())
        }
    }

    struct Opt;

    impl<'de> serde::de::Visitor<'de> for Opt {
        type Value = Option<NaiveDate>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date written YYYY-MM-DD")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V).map(Some)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        d.deserialize_any(V)
    }

    pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        d.deserialize_option(Opt)
    }
}

string_serde!(
    Duration,
    "A duration: an integer and a unit (s, m, h, d, w), e.g. `90s`, `1h`, `30d`; at most `36500d` (100 years).",
    r"^\s*([0-9]+[smhdw])+\s*$"
);
string_serde!(
    Percent,
    "A percentage, e.g. `15%` or `99.9%`.",
    r"^\s*-?[0-9.]+\s*%\s*$"
);
string_serde!(
    Money,
    "An amount and a three-letter currency code, e.g. `12000 USD`.",
    r"^\s*-?[0-9._]+\s+[A-Z]{3}\s*$"
);
string_serde!(
    Rate,
    "A count per period, e.g. `5/week`.",
    r"^\s*[0-9.]+\s*/\s*(hour|day|week|month)\s*$"
);
string_serde!(
    Quantity,
    "A number, duration, percentage, money amount or rate.",
    r"^.+$"
);
string_serde!(
    Target,
    "A comparison and a value, e.g. `<= 1d`, `>= 5/week`, `< 15%`, `== 0`.",
    r"^\s*(<=|>=|==|!=|<|>)\s*\S.*$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for s in ["90s", "1h", "30d", "2w", "1h30m", "0s"] {
            let d: Duration = s.parse().unwrap();
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{s}");
        }
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "1m30s");
        assert!("1y".parse::<Duration>().is_err());
        assert!("d".parse::<Duration>().is_err());
        assert!("99999999999999999999d".parse::<Duration>().is_err());
    }

    #[test]
    fn durations_are_bounded_at_100_years() {
        assert_eq!("36500d".parse::<Duration>(), Ok(Duration::MAX));
        assert_eq!("5214w2d".parse::<Duration>(), Ok(Duration::MAX));
        assert_eq!(Duration::MAX.to_string(), "5214w2d");
        assert_eq!(Duration::MAX.as_secs(), 3_153_600_000);
        for s in [
            "36500d1s",
            "36501d",
            "100000000d",
            "999999999999d",
            "36500d 1s",
        ] {
            assert!(s.parse::<Duration>().is_err(), "{s}");
        }
        assert_eq!(
            "100000000d".parse::<Duration>().unwrap_err().message,
            "duration `100000000d` is too long; expected at most `36500d` (100 years)"
        );
        // The constructors saturate instead of overflowing.
        assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
        assert_eq!(Duration::from_days(u64::MAX), Duration::MAX);
        assert_eq!(Duration::from_hours(u64::MAX / 2), Duration::MAX);
        assert_eq!(Duration::from_days(36_500), Duration::MAX);
        assert_eq!(Duration::MAX.to_chrono().num_days(), 36_500);
        // The extremes of the accepted time range, moved by the longest
        // duration, are still representable.
        let first = EARLIEST.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let last = LATEST
            .and_hms_nano_opt(23, 59, 59, 999_999_999)
            .unwrap()
            .and_utc();
        assert!(Duration::MAX.before(first).is_some());
        assert!(Duration::MAX.after(last).is_some());
        assert!(
            Duration::from_secs(1)
                .before(DateTime::<Utc>::MIN_UTC)
                .is_none()
        );
        assert!(
            Duration::from_secs(1)
                .after(DateTime::<Utc>::MAX_UTC)
                .is_none()
        );
    }

    #[test]
    fn dates_are_bounded() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert!(check_date(d(1970, 1, 1)).is_ok());
        assert!(check_date(d(9999, 12, 31)).is_ok());
        assert_eq!(
            check_date(d(1969, 12, 31)).unwrap_err().message,
            "date `1969-12-31` is out of range; expected a date from 1970-01-01 to 9999-12-31"
        );
        assert!(check_date(d(10_000, 1, 1)).is_err());
        assert!(check_date(NaiveDate::MAX).is_err());
    }

    #[test]
    fn targets_parse() {
        let t: Target = "<= 1d".parse().unwrap();
        assert_eq!(t.cmp, Comparator::Le);
        assert_eq!(t.value, Quantity::Duration(Duration::from_days(1)));
        let t: Target = ">= 5/week".parse().unwrap();
        assert!(matches!(
            t.value,
            Quantity::Rate(Rate {
                per: Period::Week,
                ..
            })
        ));
        let t: Target = "== 0".parse().unwrap();
        assert_eq!(t.value, Quantity::Number(0.0));
        let t: Target = "<= 10000 USD".parse().unwrap();
        assert!(matches!(t.value, Quantity::Money(_)));
        assert!("=< 1d".parse::<Target>().is_err());
        assert!("<= 1 parsec".parse::<Target>().is_err());
    }
    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn finite() -> impl Strategy<Value = f64> {
            prop_oneof![
                proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
                (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
            ]
        }
        fn period() -> impl Strategy<Value = Period> {
            proptest::sample::select(Period::ALL.to_vec())
        }
        fn quantity() -> impl Strategy<Value = Quantity> {
            prop_oneof![
                any::<u64>().prop_map(|s| Quantity::Duration(Duration::from_secs(s))),
                finite().prop_map(|v| Quantity::Percent(Percent(v))),
                (finite(), "[A-Z]{3}")
                    .prop_map(|(amount, currency)| Quantity::Money(Money { amount, currency })),
                (finite(), period()).prop_map(|(count, per)| Quantity::Rate(Rate { count, per })),
                finite().prop_map(Quantity::Number),
            ]
        }

        proptest! {
            #[test]
            fn duration_round_trips(secs in any::<u64>()) {
                let d = Duration::from_secs(secs);
                prop_assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
            }

            /// Any count with any unit parses to exactly that many seconds
            /// when it fits in 100 years, and is refused otherwise; whatever
            /// parses can be taken from and added to every accepted time.
            #[test]
            fn extreme_durations_are_exact_or_refused(
                n in prop_oneof![any::<u64>(), 0u64..=40_000, 3_153_599_990u64..3_153_600_010],
                unit in proptest::sample::select(DURATION_UNITS.to_vec()),
                at_start in any::<bool>(),
            ) {
                let text = format!("{n}{}", unit.0);
                let exact = u128::from(n) * u128::from(unit.1);
                match text.parse::<Duration>() {
                    Ok(d) => {
                        prop_assert!(exact <= u128::from(Duration::MAX.as_secs()), "{text} accepted");
                        prop_assert_eq!(u128::from(d.as_secs()), exact);
                        let t = if at_start {
                            EARLIEST.and_hms_opt(0, 0, 0).unwrap().and_utc()
                        } else {
                            LATEST.and_hms_opt(23, 59, 59).unwrap().and_utc()
                        };
                        let back = d.before(t).unwrap();
                        prop_assert_eq!(d.after(back), Some(t));
                    }
                    Err(e) => {
                        prop_assert!(exact > u128::from(Duration::MAX.as_secs()), "{text}: {e}");
                        let expected = format!("duration `{text}` is too long");
                        prop_assert!(e.message.starts_with(&expected), "{}", e.message);
                    }
                }
            }

            #[test]
            fn percent_round_trips(v in finite()) {
                let p = Percent(v);
                prop_assert_eq!(p.to_string().parse::<Percent>(), Ok(p));
            }

            #[test]
            fn money_round_trips(amount in finite(), currency in "[A-Z]{3}") {
                let m = Money { amount, currency };
                prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
            }

            #[test]
            fn rate_round_trips(count in finite(), per in period()) {
                let r = Rate { count, per };
                prop_assert_eq!(r.to_string().parse::<Rate>(), Ok(r));
            }

            #[test]
            fn quantity_round_trips(q in quantity()) {
                prop_assert_eq!(q.to_string().parse::<Quantity>(), Ok(q));
            }

            #[test]
            fn target_round_trips(cmp in proptest::sample::select(Comparator::ALL.to_vec()), value in quantity()) {
                let t = Target { cmp, value };
                prop_assert_eq!(t.to_string().parse::<Target>(), Ok(t));
            }

            #[test]
            fn no_input_panics(s in "\\PC{0,40}") {
                let _ = s.parse::<Duration>();
                let _ = s.parse::<Percent>();
                let _ = s.parse::<Money>();
                let _ = s.parse::<Rate>();
                let _ = s.parse::<Quantity>();
                let _ = s.parse::<Target>();
                let _ = crate::expr::parse(&s);
            }

            #[test]
            fn unit_like_input_never_panics(s in "[<>=! 0-9.%/a-zA-Z_()-]{0,40}") {
                let _ = s.parse::<Target>();
                let _ = s.parse::<Quantity>();
                let _ = crate::expr::parse(&s);
            }
        }
    }
}

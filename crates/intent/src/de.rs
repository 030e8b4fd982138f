//! A serde deserializer over the positioned YAML tree.
//!
//! Every error carries the line and column of the innermost node it is about:
//! an unknown field points at the key, a bad value at the value, a missing
//! field at the mapping. Messages say what was found and what is expected, with
//! a "did you mean" for near-miss field names and enum values.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::suggest::{one_of, suggest};
use crate::yaml::{Node, Resolved, Value};

/// A deserialisation error, located once it has passed through a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    pub message: String,
    pub at: Option<(usize, usize)>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            at: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::custom(format_args!("found {}, expected {exp}", describe(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::custom(format_args!(
            "invalid value: found {}, expected {exp}",
            describe(&unexp)
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut m = format!("unknown value `{variant}`");
        if let Some(s) = suggest(variant, expected.iter().copied()) {
            m.push_str(&format!("; did you mean `{s}`?"));
        } else {
            m.push_str(&format!("; expected {}", one_of(expected.iter().copied())));
        }
        Error::custom(m)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut m = format!("unknown field `{field}`");
        if let Some(s) = suggest(field, expected.iter().copied()) {
            m.push_str(&format!("; did you mean `{s}`?"));
        } else if expected.is_empty() {
            m.push_str("; no fields are accepted here");
        } else {
            m.push_str(&format!("; expected {}", one_of(expected.iter().copied())));
        }
        Error::custom(m)
    }

    fn missing_field(field: &'static str) -> Self {
        Error::custom(format_args!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::custom(format_args!("field `{field}` is set twice"))
    }
}

fn describe(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("boolean `{b}`"),
        U::Unsigned(n) => format!("integer `{n}`"),
        U::Signed(n) => format!("integer `{n}`"),
        U::Float(n) => format!("number `{n}`"),
        U::Char(c) => format!("`{c}`"),
        U::Str(s) => format!("`{s}`"),
        U::Unit => "nothing".into(),
        U::Seq => "a list".into(),
        U::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Deserialises a `T` from a node.
pub(crate) fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, Error> {
    T::deserialize(NodeDe { node, key: None })
}

/// Deserialises a `T` from the value of mapping key `key` (named in errors).
pub(crate) fn from_value_of<T: de::DeserializeOwned>(node: &Node, key: &str) -> Result<T, Error> {
    T::deserialize(NodeDe {
        node,
        key: Some(key),
    })
}

struct NodeDe<'a> {
    node: &'a Node,
    /// The mapping key this node is the value of, for context in messages.
    key: Option<&'a str>,
}

impl NodeDe<'_> {
    fn locate(&self, mut e: Error) -> Error {
        if e.at.is_none() {
            e.at = Some((self.node.line, self.node.col));
            if let Some(k) = self.key {
                e.message = format!("`{k}`: {}", e.message);
            }
        }
        e
    }

    fn unexpected(&self) -> de::Unexpected<'_> {
        match &self.node.value {
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => de::Unexpected::Unit,
                Resolved::Bool(b) => de::Unexpected::Bool(b),
                Resolved::Int(i) => de::Unexpected::Signed(i),
                Resolved::Float(f) => de::Unexpected::Float(f),
                Resolved::Str => de::Unexpected::Str(&s.text),
            },
        }
    }

    fn wrong(&self, exp: &dyn de::Expected) -> Error {
        de::Error::invalid_type(self.unexpected(), exp)
    }
}

macro_rules! located {
    ($self:ident, $body:expr) => {{
        let r = $body;
        r.map_err(|e| $self.locate(e))
    }};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        located!(
            self,
            match &self.node.value {
                Value::Seq(items) => v.visit_seq(Seq {
                    items: items.iter()
                }),
                Value::Map(entries) => v.visit_map(Map {
                    entries: entries.iter(),
                    value: None,
                }),
                Value::Scalar(s) => match s.resolve() {
                    Resolved::Null => v.visit_unit(),
                    Resolved::Bool(b) => v.visit_bool(b),
                    Resolved::Int(i) => v.visit_i64(i),
                    Resolved::Float(f) => v.visit_f64(f),
                    Resolved::Str => v.visit_str(&s.text),
                },
            }
        )
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Bool(b) => v.visit_bool(b),
                _ => Err(de::Error::invalid_type(
                    self.unexpected(),
                    &"`true` or `false`",
                )),
            },
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"`true` or `false`",
            )),
        };
        located!(self, r)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Scalar(s) if s.resolve() != Resolved::Null => v.visit_str(&s.text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        located!(self, r)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Scalar(s) => v.visit_str(&s.text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &v)),
        };
        located!(self, r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            located!(self, v.visit_none())
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Seq(items) => v.visit_seq(Seq {
                items: items.iter(),
            }),
            // `key:` with nothing after it is an empty list.
            _ if self.node.is_null() => v.visit_seq(Seq { items: [].iter() }),
            _ => Err(self.wrong(&"a list")),
        };
        located!(self, r)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Map(entries) => v.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
            // `key:` with nothing after it is an empty mapping.
            _ if self.node.is_null() => v.visit_map(Map {
                entries: [].iter(),
                value: None,
            }),
            _ => Err(self.wrong(&"a mapping of `name: value` pairs")),
        };
        located!(self, r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if !matches!(self.node.value, Value::Map(_)) && !self.node.is_null() {
            let shown: Vec<String> = fields.iter().take(4).map(|f| format!("`{f}`")).collect();
            let exp = format!("a mapping with fields such as {}", shown.join(", "));
            let e: Error = de::Error::invalid_type(self.unexpected(), &exp.as_str());
            return Err(self.locate(e));
        }
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Scalar(s) if s.resolve() != Resolved::Null => {
                v.visit_enum(s.text.as_str().into_deserializer())
            }
            _ => {
                let exp = one_of(variants.iter().copied());
                Err(de::Error::invalid_type(self.unexpected(), &exp.as_str()))
            }
        };
        located!(self, r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct tuple tuple_struct
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> de::SeqAccess<'de> for Seq<'a> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDe { node, key: None }).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, Option<&'a str>)>,
}

impl<'de, 'a> de::MapAccess<'de> for Map<'a> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some((v, k.scalar_text()));
                seed.deserialize(NodeDe { node: k, key: None }).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some((node, key)) => seed.deserialize(NodeDe { node, key }),
            None => Err(de::Error::custom("internal: value requested before key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Service, Tier};
    use crate::yaml::parse;

    fn service(text: &str) -> Result<Service, Error> {
        let (n, errs) = parse(text);
        assert!(errs.is_empty(), "{errs:?}");
        from_node(&n.unwrap())
    }

    #[test]
    fn reads_a_service() {
        let s = service("id: checkout\nteam: payments\ntier: critical\nenvironments: [a, b]\n")
            .unwrap();
        assert_eq!(s.tier, Tier::Critical);
        assert_eq!(s.environments, ["a", "b"]);
    }

    #[test]
    fn errors_are_located_at_the_innermost_node() {
        let e = service("id: checkout\nteam: payments\ntier: critcal\n").unwrap_err();
        assert_eq!(e.at, Some((3, 7)));
        assert!(
            e.message.contains("did you mean `critical`"),
            "{}",
            e.message
        );
        let e = service("id: checkout\nteam: payments\ntaem: x\n").unwrap_err();
        assert_eq!(e.at, Some((3, 1)));
        assert!(e.message.contains("unknown field `taem`"), "{}", e.message);
        let e = service("id: checkout\n").unwrap_err();
        assert_eq!(e.at, Some((1, 1)));
        assert_eq!(e.message, "missing field `team`");
        let e = service("id: a\nteam: b\nslos:\n  - id: x\n    target: 99.9\n    window: 28d\n    sli: {good: a, total: b}\n").unwrap_err();
        assert_eq!(e.at, Some((5, 13)));
        let e = service("id: [a]\nteam: b\n").unwrap_err();
        assert_eq!(e.message, "`id`: found a list, expected a string");
    }
}

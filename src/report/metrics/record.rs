//! One metric record's fields, read without building a JSON tree: keys borrowed from the line
//! (unless escaped), values kept only as what a summary needs.

use crate::protocol::NON_FINITE;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A field's value, as far as a summary cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A number (a stored `"NaN"`, `"Infinity"` or `"-Infinity"` is one too: Python's
    /// non-finite numbers, stored as strings; see [`crate::protocol::standard_json`]).
    Number(f64),
    /// Anything else: text, a boolean, null, a list, an object.
    Other,
}

/// Calls `field` with each top-level field of the JSON object `line`, in order. A line that is
/// not a JSON object is an error (the store holds only valid JSON, but it may be a list).
pub fn for_each_field(
    line: &str,
    field: impl FnMut(&str, Scalar),
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(line);
    de.deserialize_map(Fields(field))
}

struct Fields<F>(F);

impl<'de, F: FnMut(&str, Scalar)> Visitor<'de> for Fields<F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            let value: Scalar = map.next_value()?;
            (self.0)(&key, value);
        }
        Ok(())
    }
}

/// A key, borrowed from the line unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(match NON_FINITE.iter().position(|t| *t == v) {
                    Some(0) => Scalar::Number(f64::NEG_INFINITY),
                    Some(1) => Scalar::Number(f64::INFINITY),
                    Some(_) => Scalar::Number(f64::NAN),
                    None => Scalar::Other,
                })
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: numbers, Python's non-finite numbers as stored, and everything else.
    #[test]
    fn fields_are_read_in_order_with_their_scalars() {
        let mut seen = Vec::new();
        let line = r#"{"step":3,"loss":0.5,"a\"b":-2,"nan":"NaN","inf":"-Infinity","phase":"train","xs":[1,{"y":2}],"o":{"z":[]},"ok":true,"n":null}"#;
        for_each_field(line, |k, v| seen.push((k.to_string(), v))).unwrap();
        let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["step", "loss", "a\"b", "nan", "inf", "phase", "xs", "o", "ok", "n"]
        );
        assert_eq!(seen[1].1, Scalar::Number(0.5));
        assert_eq!(seen[2].1, Scalar::Number(-2.0));
        assert!(matches!(seen[3].1, Scalar::Number(v) if v.is_nan()));
        assert_eq!(seen[4].1, Scalar::Number(f64::NEG_INFINITY));
        assert!(seen[5..].iter().all(|(_, v)| *v == Scalar::Other));
        assert!(for_each_field("[1,2]", |_, _| {}).is_err());
    }
}

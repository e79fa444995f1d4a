//! A parameter's duplicate check: two values with one text (`1` and `"1"`, or a value listed
//! twice) would be two tasks nobody can tell apart in commands, labels and the environment.

use super::Value;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// The first value whose text an earlier value has, with that earlier value. Values are told
/// apart by a 64-bit hash of their text, written without making the text (a `String` per value
/// was ~14 % of a no-op resume of 10^6 tasks, issue 15); two values with one hash have their
/// texts compared, and a hash shared by two different texts falls back to the texts themselves.
pub(super) fn first_duplicate(values: &[Value]) -> Option<(&Value, &Value)> {
    if Value::increasing_ints(values) {
        return None;
    }
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let j = match seen.entry(text_hash(v)) {
            Entry::Vacant(slot) => {
                slot.insert(i);
                continue;
            }
            Entry::Occupied(slot) => *slot.get(),
        };
        if values[j].to_string() == v.to_string() {
            return Some((&values[j], v));
        }
        return first_duplicate_by_text(values);
    }
    None
}

/// [`first_duplicate`] by the values' texts: for the (astronomically rare) shared hash.
fn first_duplicate_by_text(values: &[Value]) -> Option<(&Value, &Value)> {
    let mut seen: HashMap<String, &Value> = HashMap::with_capacity(values.len());
    values
        .iter()
        .find_map(|v| seen.insert(v.to_string(), v).map(|first| (first, v)))
}

/// FNV-1a of a value's text (its `Display`), fed as the text is written: no allocation.
fn text_hash(v: &Value) -> u64 {
    struct Fnv(u64);
    impl std::fmt::Write for Fnv {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for b in s.bytes() {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            Ok(())
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    std::fmt::Write::write_fmt(&mut h, format_args!("{v}")).expect("hashing text cannot fail");
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(texts: &[&str]) -> Vec<Value> {
        texts.iter().map(|t| Value::Str(t.to_string())).collect()
    }

    /// Issue 15: the hashed check finds what the texts find, and the same pair.
    #[test]
    fn finds_the_first_value_whose_text_came_before() {
        let cases: Vec<Vec<Value>> = vec![
            vec![],
            vals(&["a", "b", "c"]),
            vals(&["a", "b", "a", "b"]),
            vec![
                Value::Int(1),
                Value::Str("2".into()),
                Value::Str("1".into()),
            ],
            vec![
                Value::Float(0.5),
                Value::Str("0.5".into()),
                Value::Bool(true),
            ],
            vec![Value::Bool(true), Value::Str("true".into())],
            vec![Value::Float(-0.0), Value::Float(0.0), Value::Int(0)],
            (0..10_000).map(Value::Int).collect(),
            vec![Value::Int(3), Value::Int(5), Value::Int(3)],
            vec![Value::Int(1), Value::Int(2), Value::Str("2".into())],
        ];
        for values in &cases {
            assert_eq!(
                first_duplicate(values),
                first_duplicate_by_text(values),
                "{values:?}"
            );
        }
        let ints = vec![
            Value::Int(1),
            Value::Str("2".into()),
            Value::Str("1".into()),
        ];
        assert_eq!(first_duplicate(&ints), Some((&ints[0], &ints[2])));
        assert_eq!(first_duplicate(&cases[7]), None);
    }

    /// The hash is of the text, however `Display` splits its writes.
    #[test]
    fn text_hash_is_the_texts_hash() {
        assert_eq!(
            text_hash(&Value::Int(12)),
            text_hash(&Value::Str("12".into()))
        );
        assert_ne!(text_hash(&Value::Int(12)), text_hash(&Value::Int(21)));
        assert_eq!(
            text_hash(&Value::Float(1e300)),
            text_hash(&Value::Str(1e300.to_string()))
        );
    }
}

//! Parameter values: the scalar types an experiment file may list in a grid.

use std::fmt;

/// One value of a grid parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// Whether every value of `values` is an integer larger than the one before (a `range` of
    /// integers): then no two have one text or one JSON text, and the checks that look for
    /// such pairs need not hash a million values (issue 15).
    pub fn increasing_ints(values: &[Value]) -> bool {
        let mut last = None;
        values.iter().all(|v| match v {
            Value::Int(i) if last.is_none_or(|l| l < *i) => {
                last = Some(*i);
                true
            }
            _ => false,
        })
    }

    /// Converts a TOML scalar; `None` for arrays, tables and dates.
    pub fn from_toml(v: &toml::Value) -> Option<Value> {
        match v {
            toml::Value::String(s) => Some(Value::Str(s.clone())),
            toml::Value::Integer(i) => Some(Value::Int(*i)),
            toml::Value::Float(f) => Some(Value::Float(*f)),
            toml::Value::Boolean(b) => Some(Value::Bool(*b)),
            _ => None,
        }
    }

    /// The value as JSON, keeping its type (so `1` and `"1"` stay distinct in results).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

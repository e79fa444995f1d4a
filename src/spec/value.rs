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

//! Generated parameter values: `{ range = [start, stop, step] }` (Python's range: the stop is
//! left out), `{ linspace = [a, b], num = n }` and `{ logspace = [a, b], num = n }` (numpy's
//! linspace and geomspace: both ends included). Float values are rounded to 12 significant
//! digits, so `range = [0, 1, 0.1]` gives 0.3, not 0.30000000000000004.

use super::validate::Ctx;
use super::{SpecError, Value, MAX_TASKS};

type Table = toml::map::Map<String, toml::Value>;

const KINDS: &str = "{ range = [0, 60] }, { range = [0, 60, 10] }, { linspace = [0, 1], num = 5 } or { logspace = [1e-4, 1e-1], num = 4 }";

/// The values a generator table gives, in order.
pub(super) fn values(cx: &Ctx, at: usize, name: &str, t: &Table) -> Result<Vec<Value>, SpecError> {
    let err = |m: String, h: String| cx.err(at, format!("parameter `{name}`: {m}"), h);
    let kinds: Vec<&str> = ["range", "linspace", "logspace"]
        .into_iter()
        .filter(|k| t.contains_key(*k))
        .collect();
    let allowed: &[&str] = match kinds.as_slice() {
        ["range"] => &["range", "step"],
        [_] => &["linspace", "logspace", "num"],
        [] => {
            return Err(err(
                "a table of values needs `range`, `linspace` or `logspace`".into(),
                format!("write {name} = {KINDS}, or list the values: {name} = [1, 2, 3]"),
            ))
        }
        _ => {
            return Err(err(
                format!("give one of {}, not several", kinds.join(", ")),
                format!("write {name} = {KINDS}"),
            ))
        }
    };
    if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(
            format!("unknown key `{k}` with `{}`", kinds[0]),
            format!("keys are: {}", allowed.join(", ")),
        ));
    }
    let ends = |key: &str, len: &[usize]| -> Result<Vec<toml::Value>, SpecError> {
        match t.get(key) {
            Some(toml::Value::Array(a)) if len.contains(&a.len()) && a.iter().all(is_number) => {
                Ok(a.clone())
            }
            _ => Err(err(
                format!("`{key}` must be a list of {} numbers", len[0]),
                format!("write {name} = {KINDS}"),
            )),
        }
    };
    if kinds[0] == "range" {
        let mut r = ends("range", &[2, 3])?;
        match (t.get("step"), r.len()) {
            (Some(s), 2) if is_number(s) => r.push(s.clone()),
            (Some(_), 2) => {
                return Err(err(
                    "`step` must be a number".into(),
                    "e.g. step = 10".into(),
                ))
            }
            (Some(_), _) => {
                return Err(err(
                    "the step is given twice: in `range` and as `step`".into(),
                    "keep one".into(),
                ))
            }
            (None, _) => {}
        }
        return range(&r).map_err(|(m, h)| err(m, h));
    }
    let ab = ends(kinds[0], &[2])?;
    let num = match t.get("num") {
        Some(toml::Value::Integer(n)) if *n >= 1 && *n as u64 <= MAX_TASKS => *n as usize,
        Some(_) => {
            return Err(err(
                format!("`num` must be a whole number from 1 to {MAX_TASKS}"),
                "e.g. num = 5".into(),
            ))
        }
        None => {
            return Err(err(
                format!("`{}` needs `num`, the number of values", kinds[0]),
                format!(
                    "write {name} = {{ {} = [{}, {}], num = 5 }}",
                    kinds[0], ab[0], ab[1]
                ),
            ))
        }
    };
    let (a, b) = (float(&ab[0]), float(&ab[1]));
    if kinds[0] == "logspace" && !(a > 0.0 && b > 0.0) {
        return Err(err(
            format!("logspace = [{a}, {b}]: both ends must be greater than 0"),
            "log-spaced values lie between two positive numbers, e.g. logspace = [1e-4, 1e-1]"
                .into(),
        ));
    }
    let last = (num - 1).max(1) as f64;
    let values: Vec<f64> = (0..num)
        .map(|i| match (i, kinds[0]) {
            (0, _) => a,
            (i, _) if i == num - 1 => b,
            (i, "linspace") => a + (b - a) * (i as f64 / last),
            (i, _) => a * (b / a).powf(i as f64 / last),
        })
        .map(round12)
        .collect();
    if values.iter().any(|x| !x.is_finite()) {
        // Between two huge ends of opposite signs, `b - a` overflows (issue 14, review).
        return Err(err(
            format!(
                "{} = [{a:e}, {b:e}] gives values beyond the largest number",
                kinds[0]
            ),
            "use ends whose difference is below 1.7e308".into(),
        ));
    }
    Ok(values.into_iter().map(Value::Float).collect())
}

fn is_number(v: &toml::Value) -> bool {
    matches!(v, toml::Value::Integer(_)) || matches!(v, toml::Value::Float(f) if f.is_finite())
}

fn float(v: &toml::Value) -> f64 {
    match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// `x` rounded to 12 significant digits (and -0 made 0), so that sums of steps print as written.
pub(crate) fn round12(x: f64) -> f64 {
    let r: f64 = format!("{x:.11e}").parse().unwrap_or(x);
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

type Problem = (String, String);

/// Python's range over `[start, stop]` or `[start, stop, step]`: integers if all three are,
/// else floats `start + i*step`, rounded.
fn range(r: &[toml::Value]) -> Result<Vec<Value>, Problem> {
    let written = format!(
        "range = [{}]",
        r.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let too_many = |n: f64| -> Problem {
        (
            format!("{written} gives {n} values, more than the limit of {MAX_TASKS}"),
            "use a larger step or a smaller interval; `[grid] sample = N` picks N combinations of a large grid".into(),
        )
    };
    let empty = || -> Problem {
        (
            format!("{written} is empty: as in Python's range, the stop value is left out"),
            "give a stop past the last value you want: range = [0, 60] is 0, 1, ..., 59; a step below 0 counts down".into(),
        )
    };
    if let [toml::Value::Integer(a), toml::Value::Integer(b), rest @ ..] = r {
        let step = match rest {
            [toml::Value::Integer(s)] => *s,
            [] => 1,
            _ => 0,
        };
        if step != 0 || rest.is_empty() {
            if step == 0 {
                return Err(zero_step(&written));
            }
            let (a, b, s) = (*a as i128, *b as i128, step as i128);
            let n = if s > 0 {
                (b - a + s - 1) / s
            } else {
                (a - b - s - 1) / -s
            };
            if n <= 0 {
                return Err(empty());
            }
            if n as u64 > MAX_TASKS {
                return Err(too_many(n as f64));
            }
            return Ok((0..n).map(|i| Value::Int((a + i * s) as i64)).collect());
        }
    }
    let (a, b) = (float(&r[0]), float(&r[1]));
    let s = r.get(2).map_or(1.0, float);
    if s == 0.0 {
        return Err(zero_step(&written));
    }
    let n = ((b - a) / s).ceil();
    if n.is_nan() || n < 1.0 {
        return Err(empty());
    }
    if n > MAX_TASKS as f64 {
        return Err(too_many(n));
    }
    let values: Vec<Value> = (0..n as u64)
        .map(|i| round12(a + i as f64 * s))
        .filter(|x| if s > 0.0 { *x < b } else { *x > b })
        .map(Value::Float)
        .collect();
    if values.is_empty() {
        return Err(empty());
    }
    Ok(values)
}

fn zero_step(written: &str) -> Problem {
    (
        format!("{written} has a step of 0, which never reaches the stop"),
        "give a step other than 0, e.g. range = [0, 60, 10]".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Result<Vec<String>, Problem> {
        let v: toml::Value = toml::from_str::<Table>(&format!("r = {text}")).unwrap()["r"].clone();
        let a = v.as_array().unwrap().clone();
        range(&a).map(|v| v.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn ranges_follow_python() {
        assert_eq!(r("[0, 4]").unwrap(), ["0", "1", "2", "3"]);
        assert_eq!(r("[0, 60, 20]").unwrap(), ["0", "20", "40"]);
        assert_eq!(r("[5, 0, -2]").unwrap(), ["5", "3", "1"]);
        assert_eq!(r("[0, 1, 0.1]").unwrap().len(), 10);
        assert_eq!(r("[0, 1, 0.1]").unwrap()[3], "0.3");
        assert_eq!(r("[0, 0.3, 0.1]").unwrap(), ["0", "0.1", "0.2"]);
        assert!(r("[5, 5]").unwrap_err().0.contains("left out"));
        assert!(r("[0, 5, 0]").unwrap_err().0.contains("step of 0"));
        assert!(r("[0, 10000000000]").unwrap_err().0.contains("limit"));
    }

    #[test]
    fn rounding_keeps_twelve_digits() {
        assert_eq!(round12(0.1 + 0.2), 0.3);
        assert_eq!(round12(-0.0).to_string(), "0");
        assert_eq!(round12(1e-4 * 10f64.powf(1.0)), 1e-3);
    }
}

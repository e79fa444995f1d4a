//! `[params]`: each entry is one axis of the grid. A list (or one scalar) is a plain parameter;
//! a table generates values (`{ range = [0, 60] }`, `{ linspace = [0, 1], num = 5 }`,
//! `{ logspace = [1e-4, 1e-1], num = 4 }`, see [`super::generate`]); a list of tables links
//! parameters that vary together (`model = [{ arch = "a", lr = 0.1 }, ...]`).

use super::raw::SpannedMap;
use super::validate::{is_ident, toml_date, Ctx};
use super::{limits, Link, Param, SpecError, Value};
use std::collections::HashMap;
use toml::Spanned;

/// The parameters of `[params]` in declaration order (the members of a linked group in the
/// order of its first table), and the linked groups.
pub(super) fn grid_params(
    cx: &Ctx,
    raw: Option<&Spanned<SpannedMap>>,
) -> Result<(Vec<Param>, Vec<Link>), SpecError> {
    let Some(table) = raw else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut params: Vec<Param> = Vec::new();
    let mut links = Vec::new();
    for (name, value) in table.get_ref() {
        let at = value.span().start;
        check_name(cx, at, name, &params, "parameter")?;
        match value.get_ref() {
            toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table) => {
                let members = linked(cx, at, name, a, &params)?;
                links.push(Link {
                    name: name.clone(),
                    params: members.iter().map(|p| p.name.clone()).collect(),
                });
                params.extend(members);
            }
            toml::Value::Table(t) if toml_date(value.get_ref()).is_none() => {
                let values = super::generate::values(cx, at, name, t)?;
                params.push(distinct(cx, at, name, values, true)?);
            }
            other => {
                let items: Vec<toml::Value> = match other {
                    toml::Value::Array(a) => a.clone(),
                    scalar => vec![scalar.clone()],
                };
                if items.is_empty() {
                    return Err(cx.err(at, format!("parameter `{name}` has no values, so the grid would be empty"),
                        format!("give at least one value, e.g. {name} = [\"a\", \"b\"], or remove the parameter")));
                }
                let values = items
                    .iter()
                    .map(|item| scalar(cx, at, name, item))
                    .collect::<Result<Vec<_>, _>>()?;
                params.push(distinct(cx, at, name, values, false)?);
            }
        }
    }
    Ok((params, links))
}

/// A parameter or group name must be an identifier, and unique ignoring case: each parameter
/// reaches the task as LABTRAIL_PARAM_<NAME>.
fn check_name(
    cx: &Ctx,
    at: usize,
    name: &str,
    params: &[Param],
    what: &str,
) -> Result<(), SpecError> {
    if !is_ident(name) {
        return Err(cx.err(at, format!("{what} name `{name}` is not an identifier"),
            format!("use letters, digits and `_`, starting with a letter, so it can be written {{{name}}} in a command")));
    }
    if let Some(other) = params.iter().find(|p| p.name.eq_ignore_ascii_case(name)) {
        let message = if other.name == name {
            format!("parameter `{name}` is defined twice")
        } else {
            format!(
                "parameters `{}` and `{name}` differ only in case: both would be the variable {}{}",
                other.name,
                crate::protocol::PARAM_PREFIX,
                name.to_uppercase()
            )
        };
        return Err(cx.err(at, message, "rename one of them"));
    }
    Ok(())
}

/// One value as a grid value, or an error saying what to write instead.
fn scalar(cx: &Ctx, at: usize, name: &str, item: &toml::Value) -> Result<Value, SpecError> {
    let v = Value::from_toml(item).ok_or_else(|| match toml_date(item) {
        Some(date) => cx.err(at,
            format!("parameter `{name}` has a date, {date}, which is not a string, number or boolean"),
            format!("quote it to use it as text: \"{date}\"")),
        None => cx.err(at,
            format!("parameter `{name}` has a value that is not a string, number or boolean: {item}"),
            "grid values are scalars; to vary settings together, list tables: model = [{ arch = \"a\", lr = 0.1 }, { arch = \"b\", lr = 0.01 }]".to_string()),
    })?;
    if let Some((message, help)) = limits::value_problem(&v.to_string()) {
        return Err(cx.err(at, format!("a value of parameter `{name}` {message}"), help));
    }
    if let Some((message, help)) = not_finite(&v) {
        return Err(cx.err(at, format!("parameter `{name}` {message}"), help));
    }
    Ok(v)
}

/// A float that is not a finite number: `nan`, `inf` and `-inf` all become JSON `null` in task
/// keys and results, so they would be one task under three names (issue 14, review).
pub(super) fn not_finite(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Float(f) if !f.is_finite() => Some((
            format!("has the value {f}, which is not a finite number (it cannot make a task key)"),
            format!("quote it to pass the text to the command: \"{f}\""),
        )),
        _ => None,
    }
}

/// The parameter, refused if two of its values have one text: they reach commands, labels and
/// the environment as text, so they would be two tasks nobody can tell apart.
fn distinct(
    cx: &Ctx,
    at: usize,
    name: &str,
    values: Vec<Value>,
    generated: bool,
) -> Result<Param, SpecError> {
    if let Some((first, v)) = super::duplicates::first_duplicate(&values) {
        let message = match (generated, first == v) {
            (true, _) => format!("parameter `{name}` generates the value `{v}` twice (values are rounded to 12 significant digits)"),
            (false, true) => format!("parameter `{name}` lists the value `{v}` twice"),
            (false, false) => format!("parameter `{name}` lists {} and {}, which are the same value `{v}` to commands, labels and the environment", first.to_json(), v.to_json()),
        };
        let help = match generated {
            true => "use fewer values (a smaller num, a larger step) or a wider interval",
            false => "remove the duplicate",
        };
        return Err(cx.err(at, message, help));
    }
    Ok(Param {
        name: name.to_string(),
        values,
    })
}

/// The members of linked group `group`: every table gives one row, and all tables name the
/// same parameters.
fn linked(
    cx: &Ctx,
    at: usize,
    group: &str,
    tables: &[toml::Value],
    earlier: &[Param],
) -> Result<Vec<Param>, SpecError> {
    let help = format!("linked parameters are a list of tables with the same keys: {group} = [{{ arch = \"resnet18\", lr = 0.1 }}, {{ arch = \"vit\", lr = 0.001 }}]");
    let ordinal = |i: usize| format!("table {} of `{group}`", i + 1);
    let mut members: Vec<Param> = Vec::new();
    let mut rows: HashMap<Vec<String>, usize> = HashMap::new();
    for (i, t) in tables.iter().enumerate() {
        let Some(t) = t.as_table().filter(|_| toml_date(t).is_none()) else {
            return Err(cx.err(at, format!("{} is not a table: {t}", ordinal(i)), help));
        };
        if i == 0 {
            if t.is_empty() {
                return Err(cx.err(at, format!("{} is empty", ordinal(i)), help));
            }
            for key in t.keys() {
                let mut known = earlier.to_vec();
                known.extend(members.iter().cloned());
                check_name(cx, at, key, &known, "parameter")?;
                members.push(Param {
                    name: key.clone(),
                    values: Vec::with_capacity(tables.len()),
                });
            }
        }
        if let Some(extra) = t.keys().find(|k| !members.iter().any(|m| &m.name == *k)) {
            return Err(cx.err(
                at,
                format!("{} names `{extra}`, which table 1 does not", ordinal(i)),
                format!(
                    "every table of `{group}` gives the same parameters: {}",
                    names(&members)
                ),
            ));
        }
        let mut row = Vec::with_capacity(members.len());
        let all = names(&members);
        for m in &mut members {
            let Some(item) = t.get(&m.name) else {
                return Err(cx.err(
                    at,
                    format!("{} does not give `{}`", ordinal(i), m.name),
                    format!("every table of `{group}` gives the same parameters: {all}"),
                ));
            };
            let v = scalar(cx, at, &m.name, item)?;
            row.push(v.to_string());
            m.values.push(v);
        }
        if let Some(first) = rows.insert(row, i) {
            return Err(cx.err(
                at,
                format!(
                    "{} repeats table {} (the same values)",
                    ordinal(i),
                    first + 1
                ),
                "remove the duplicate",
            ));
        }
    }
    Ok(members)
}

fn names(members: &[Param]) -> String {
    let v: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    v.join(", ")
}

/// An `[[exclude]]` (partial) or `[[include]]` (`full`) table as (parameter, value) pairs; an
/// included combination in grid order.
pub(super) fn combination(
    cx: &Ctx,
    entry: &Spanned<SpannedMap>,
    params: &[Param],
    what: &str,
    full: bool,
) -> Result<Vec<(String, Value)>, SpecError> {
    let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let mut out = Vec::new();
    for (name, value) in entry.get_ref() {
        if !known.contains(&name.as_str()) {
            return Err(cx.err(
                value.span().start,
                format!("[[{what}]] names `{name}`, which is not a parameter"),
                format!("parameters are: {}", known.join(", ")),
            ));
        }
        let at = value.span().start;
        let v = Value::from_toml(value.get_ref()).ok_or_else(|| {
            cx.err(
                at,
                format!("[[{what}]] value for `{name}` must be a string, number or boolean"),
                "",
            )
        })?;
        let text = v.to_string();
        if let Some((message, help)) = limits::value_problem(&text).or_else(|| not_finite(&v)) {
            return Err(cx.err(at, format!("[[{what}]] value for `{name}` {message}"), help));
        }
        let grid = params.iter().find(|p| &p.name == name).expect("known");
        if let Some(same) = grid
            .values
            .iter()
            .find(|g| **g != v && g.to_string() == text)
        {
            return Err(cx.err(
                at,
                format!(
                    "[[{what}]] gives `{name}` the value {}, but [params] lists it as {}",
                    v.to_json(),
                    same.to_json()
                ),
                format!("write it as in [params]: {name} = {}", same.to_json()),
            ));
        }
        out.push((name.clone(), v));
    }
    if out.is_empty() {
        return Err(cx.err(
            entry.span().start,
            format!("an empty [[{what}]] table"),
            "name at least one parameter and its value",
        ));
    }
    if full {
        if let Some(missing) = known.iter().find(|k| !out.iter().any(|(n, _)| n == *k)) {
            return Err(cx.err(
                entry.span().start,
                format!("[[include]] does not give a value for `{missing}`"),
                "an included combination must set every parameter",
            ));
        }
        // Keep grid order so included tasks look like grid tasks.
        out.sort_by_key(|(n, _)| known.iter().position(|k| k == n));
    }
    Ok(out)
}

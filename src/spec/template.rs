//! Command templates with `{param}` placeholders.
//!
//! A placeholder is `{name}` where `name` is an identifier. Everything else is literal: `{{` and
//! `}}` write one brace, `${VAR}` stays a shell variable, and braces around non-identifiers
//! (`awk '{print $1}'`) are left alone, so ordinary shell text needs no escaping.
//!
//! In a command, each placeholder is written for the shell quoting it stands in (see
//! [`Quoting`], worked out by [`super::quoting`]): `--name {x}`, `--name '{x}'` and
//! `--name "{x}"` all pass the value as one literal argument.

/// How a placeholder's value is written into the rendered text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// As is: environment values, which no shell parses.
    Raw,
    /// Outside quotes in a command: [`shell_quote`]d into one word.
    Word,
    /// Inside `'…'`: a `'` in the value is written `'\''` (close, escaped quote, reopen).
    InSingle,
    /// Inside `"…"`: `$`, `` ` ``, `\` and `"` are escaped with a backslash.
    InDouble,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as is.
    Literal(String),
    /// A parameter reference, with its byte offset in the template (for error messages) and how
    /// its value is quoted.
    Param {
        name: String,
        offset: usize,
        quoting: Quoting,
    },
}

/// A parsed template, rendered once per task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Splits `text` into literal text and placeholders whose values are written as they are
    /// (for environment values).
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            if rest.starts_with("{{") || rest.starts_with("}}") {
                lit.push(bytes[i] as char);
                i += 2;
                continue;
            }
            if bytes[i] == b'{' && !(i > 0 && bytes[i - 1] == b'$') {
                if let Some(end) = rest.find('}') {
                    let name = &rest[1..end];
                    if is_ident(name) {
                        if !lit.is_empty() {
                            pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                        }
                        pieces.push(Piece::Param {
                            name: name.to_string(),
                            offset: i,
                            quoting: Quoting::Raw,
                        });
                        i += end + 1;
                        continue;
                    }
                }
            }
            let ch = rest.chars().next().expect("non-empty rest");
            lit.push(ch);
            i += ch.len_utf8();
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Template { pieces }
    }

    /// Parses a shell command: like [`Template::parse`], and each placeholder is quoted for the
    /// shell quoting it stands in. A placeholder whose quoting cannot be written safely is an
    /// error.
    pub fn parse_command(text: &str) -> Result<Template, super::quoting::QuoteError> {
        let mut t = Template::parse(text);
        super::quoting::assign(&mut t.pieces)?;
        Ok(t)
    }

    /// The placeholders, in order of appearance.
    pub fn params(&self) -> impl Iterator<Item = (&str, usize)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Param { name, offset, .. } => Some((name.as_str(), *offset)),
            Piece::Literal(_) => None,
        })
    }

    /// Renders the template; `value` returns a placeholder's value as text, which is quoted as
    /// the placeholder's place needs. Placeholders `value` does not know are kept verbatim
    /// (validation rejects them before any rendering happens).
    pub fn render<'a>(&self, value: impl FnMut(&str) -> Option<&'a str>) -> String {
        let mut out = String::with_capacity(64);
        self.render_into(&mut out, value);
        out
    }

    /// Renders the template at the end of `out` (see [`Template::render`]): a caller rendering
    /// a million commands reuses one buffer.
    pub fn render_into<'a>(
        &self,
        out: &mut String,
        mut value: impl FnMut(&str) -> Option<&'a str>,
    ) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Param { name, quoting, .. } => match value(name) {
                    Some(v) => quote_into(out, v, *quoting),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
    }
}

/// Appends `value` to `out`, quoted for its place.
fn quote_into(out: &mut String, value: &str, quoting: Quoting) {
    match quoting {
        Quoting::Raw => out.push_str(value),
        Quoting::Word => out.push_str(&shell_quote(value)),
        Quoting::InSingle => out.push_str(&value.replace('\'', r"'\''")),
        Quoting::InDouble => {
            for c in value.chars() {
                if matches!(c, '$' | '`' | '\\' | '"') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
}

/// Quotes `value` for a POSIX shell so that it stays one literal word. Plain words (letters,
/// digits, `-_./=:,+@%`) are left bare so commands stay readable.
pub fn shell_quote(value: &str) -> std::borrow::Cow<'_, str> {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(format!("'{}'", value.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_leaves_shell_braces_alone() {
        let t = Template::parse("awk '{print $1}' ${HOME} {{x}} --rep {rep}");
        let names: Vec<_> = t.params().map(|(n, _)| n).collect();
        assert_eq!(names, ["rep"]);
        let out = t.render(|n| (n == "rep").then_some("stats"));
        assert_eq!(out, "awk '{print $1}' ${HOME} {x} --rep stats");
    }

    #[test]
    fn quoting_keeps_hostile_values_one_word() {
        assert_eq!(shell_quote("50k"), "50k");
        assert_eq!(shell_quote("x; rm -rf ~"), "'x; rm -rf ~'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(whoami)"), "'$(whoami)'");
    }
}

//! Where each placeholder of a command stands in the shell's quoting.
//!
//! People write `--name "{x}"` or `--name '{x}'` out of habit. Pasting a shell-quoted value there
//! would put the quotes inside the value, and a value pasted raw into `"…"` would have its
//! `$(…)` run. So the command text around the placeholders is read as the shell reads it —
//! `'…'`, `"…"`, backslash escapes, `$(…)`, `` `…` ``, `$'…'`, `#` comments and here-documents
//! — and each placeholder is quoted for the place it is in, or refused where no quoting is safe:
//! inside `` `…` `` (the shell processes backslashes there once more before running the text,
//! so a quoted value can close the backticks), inside `$'…'`, and in a here-document.

use super::heredoc::Heredocs;
use super::template::{Piece, Quoting};

/// A placeholder that cannot be quoted safely where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteError {
    /// Byte offset in the template: of the placeholder, or of the quote left open.
    pub offset: usize,
    /// The placeholder the error is about, when it is about one.
    pub placeholder: Option<String>,
    pub message: String,
    pub help: String,
}

/// A quoting construct the reader is inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Single,
    Double,
    /// `$'…'`: backslash escapes are interpreted, so neither raw nor `'\''` text is safe.
    AnsiC,
    /// `$(…)`, with how many plain parentheses are open inside it.
    Subst(u32),
    Backtick,
    /// A `#` comment, up to the end of the line.
    Comment,
}

/// The shell reader's state as it walks the literal text.
#[derive(Default)]
struct Reader {
    /// Open constructs, innermost last, with the offset each opened at.
    stack: Vec<(Open, usize)>,
    escaped: bool,
    prev: Option<char>,
    heredocs: Heredocs,
}

impl Reader {
    fn top(&self) -> Option<Open> {
        self.stack.last().map(|(o, _)| *o)
    }

    fn feed(&mut self, c: char, at: usize) {
        let prev = self.prev.replace(c);
        if self.heredocs.in_body() {
            self.heredocs.feed_body(c);
            return;
        }
        let operator =
            !self.escaped && matches!(self.top(), None | Some(Open::Subst(0) | Open::Backtick));
        self.heredocs.watch(c, operator);
        if self.escaped {
            self.escaped = false;
            return;
        }
        match self.top() {
            Some(Open::Comment) => {
                if c == '\n' {
                    self.stack.pop();
                }
            }
            Some(Open::Single) => {
                if c == '\'' {
                    self.stack.pop();
                }
            }
            Some(Open::AnsiC) => match c {
                '\\' => self.escaped = true,
                '\'' => {
                    self.stack.pop();
                }
                _ => {}
            },
            Some(Open::Double) => match c {
                '\\' => self.escaped = true,
                '"' => {
                    self.stack.pop();
                }
                '`' => self.stack.push((Open::Backtick, at)),
                '(' if prev == Some('$') => self.stack.push((Open::Subst(0), at)),
                _ => {}
            },
            // Outside quotes, at the top level or inside `$(…)` / `` `…` ``.
            outside => match c {
                '\\' => self.escaped = true,
                '\'' if prev == Some('$') => self.stack.push((Open::AnsiC, at)),
                '\'' => self.stack.push((Open::Single, at)),
                '"' => self.stack.push((Open::Double, at)),
                '`' if outside == Some(Open::Backtick) => {
                    self.stack.pop();
                }
                '`' => self.stack.push((Open::Backtick, at)),
                '(' if prev == Some('$') => self.stack.push((Open::Subst(0), at)),
                '(' => {
                    if let Some((Open::Subst(depth), _)) = self.stack.last_mut() {
                        *depth += 1;
                    }
                }
                ')' => match self.stack.last_mut() {
                    Some((Open::Subst(0), _)) => {
                        self.stack.pop();
                    }
                    Some((Open::Subst(depth), _)) => *depth -= 1,
                    _ => {}
                },
                '#' if prev.is_none_or(|p| p.is_whitespace() || ";&|()<>".contains(p)) => {
                    self.stack.push((Open::Comment, at))
                }
                _ => {}
            },
        }
        // A newline outside quotes ends the command line; here-document bodies start after it.
        if c == '\n' && !matches!(self.top(), Some(Open::Single | Open::Double | Open::AnsiC)) {
            self.heredocs.line_ended();
        }
    }

    /// How a placeholder at `offset` named `name` is quoted, or why it cannot be.
    fn quoting(&mut self, name: &str, offset: usize) -> Result<Quoting, QuoteError> {
        let refuse = |message: String, help: &str| QuoteError {
            offset,
            placeholder: Some(name.to_string()),
            message,
            help: help.to_string(),
        };
        if let Some((message, help)) = self.heredocs.refusal(name) {
            return Err(refuse(message, &help));
        }
        if self.stack.iter().any(|(o, _)| *o == Open::Backtick) {
            return Err(refuse(
                format!("placeholder {{{name}}} is inside `…`, where the shell processes backslashes again before running the text, so no quoting of its value is safe"),
                "use $(…) instead of backticks: labtrail quotes values inside $(…)",
            ));
        }
        match self.top() {
            None | Some(Open::Subst(_) | Open::Backtick | Open::Comment) => Ok(Quoting::Word),
            Some(Open::Single) => Ok(Quoting::InSingle),
            Some(Open::Double) => Ok(Quoting::InDouble),
            Some(Open::AnsiC) => Err(refuse(
                format!(
                    "placeholder {{{name}}} is inside $'…', where no quoting of its value is safe"
                ),
                "write the placeholder outside the $'…' quotes: labtrail quotes values itself",
            )),
        }
    }
}

/// Sets the quoting of every placeholder in `pieces`, a command split into literal text and
/// placeholders.
pub(super) fn assign(pieces: &mut [Piece]) -> Result<(), QuoteError> {
    let mut reader = Reader::default();
    let mut at = 0;
    let mut first_param = None;
    for piece in pieces.iter_mut() {
        match piece {
            Piece::Literal(text) => {
                for c in text.chars() {
                    reader.feed(c, at);
                    at += c.len_utf8();
                }
            }
            Piece::Param {
                name,
                offset,
                quoting,
            } => {
                *quoting = reader.quoting(name, *offset)?;
                first_param.get_or_insert_with(|| name.clone());
                // The value is part of a word: a `\` before it escapes nothing of the value's
                // quoting, and a `#` after it does not start a comment.
                reader.escaped = false;
                reader.prev = Some('x');
                at = *offset + name.len() + 2;
            }
        }
    }
    let unclosed = reader
        .stack
        .iter()
        .find(|(o, _)| *o != Open::Comment)
        .copied();
    match (unclosed, first_param) {
        (Some((open, opened_at)), Some(name)) => {
            let what = match open {
                Open::Single | Open::AnsiC => "'",
                Open::Double => "\"",
                Open::Subst(_) => "$(",
                Open::Backtick | Open::Comment => "`",
            };
            Err(QuoteError {
                offset: opened_at,
                placeholder: None,
                message: format!(
                    "the command opens {what} and never closes it, so where {{{name}}} stands cannot be told"
                ),
                help: "close the quote (labtrail reads quotes as the shell does)".into(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::Template;

    fn render(cmd: &str, value: &str) -> String {
        Template::parse_command(cmd)
            .expect("quotable")
            .render(|_| Some(value))
    }

    #[test]
    fn each_place_gets_its_quoting() {
        let v = r#"it's $(id) "x" \n"#;
        assert_eq!(render("echo {x}", "a b"), "echo 'a b'");
        assert_eq!(render("echo '{x}'", v), r#"echo 'it'\''s $(id) "x" \n'"#);
        assert_eq!(render("echo \"{x}\"", v), r#"echo "it's \$(id) \"x\" \\n""#);
        assert_eq!(
            render("echo \"$(cat {x})\"", "a b"),
            "echo \"$(cat 'a b')\""
        );
        assert_eq!(render("echo \"$(cat '{x}')\"", "a"), "echo \"$(cat 'a')\"");
        assert_eq!(render(r"echo it\'s {x}", "a b"), r"echo it\'s 'a b'");
        assert_eq!(
            render("echo \"a\\\"b\" {x}", "a b"),
            "echo \"a\\\"b\" 'a b'"
        );
        assert_eq!(
            render("awk '{print $1}' {x}", "a b"),
            "awk '{print $1}' 'a b'"
        );
        assert_eq!(
            render("echo $((1+(2))) {x}", "a b"),
            "echo $((1+(2))) 'a b'"
        );
        assert_eq!(
            render("echo # don't\necho {x}", "a b"),
            "echo # don't\necho 'a b'"
        );
        assert_eq!(render("echo a#'{x}'", "it's"), r"echo a#'it'\''s'");
    }

    #[test]
    fn unsafe_places_are_refused() {
        let e = Template::parse_command("echo $'{x}'").unwrap_err();
        assert_eq!(e.placeholder.as_deref(), Some("x"));
        assert!(e.message.contains("$'"), "{}", e.message);
        assert!(Template::parse_command("echo `echo \"{x}\"`").is_err());
        // Issue 9: bare in `…`, a value's backquote closed the backticks (bash as sh ran it).
        for cmd in [
            "echo `echo {x}`",
            "echo \"`echo {x}`\"",
            "echo $(echo `echo {x}`)",
        ] {
            let e = Template::parse_command(cmd).unwrap_err();
            assert_eq!(e.offset, cmd.find('{').unwrap(), "{cmd}");
            assert!(e.help.contains("$(…) instead of backticks"), "{}", e.help);
        }
        let e = Template::parse_command("echo '{x}").unwrap_err();
        assert_eq!((e.offset, e.placeholder), (5, None));
        // Without placeholders an unclosed quote is the shell's business, as before.
        assert!(Template::parse_command("echo 'a").is_ok());
    }
}

//! Here-documents in a command, as the shell reads them.
//!
//! A here-document's body is not shell syntax: quotes in it are literal, and with an unquoted
//! delimiter (`<<EOF`) the shell expands `$…` and runs `$(…)` and `` `…` `` in it. No quoting of a
//! value pasted there is safe — `'$(…)'` still runs, and with a quoted delimiter (`<<'EOF'`)
//! labtrail's quotes would end up in the text. So the reader finds the bodies and a placeholder
//! inside one is refused, with how to write it instead.

use std::collections::VecDeque;

/// A here-document whose delimiter has been read.
#[derive(Debug, Clone)]
struct Heredoc {
    /// The delimiter word, quotes removed: the body ends at the line that is exactly this.
    delim: String,
    /// `<<-`: leading tabs are stripped from body lines (and from the delimiter line).
    strip_tabs: bool,
    /// Any part of the delimiter was quoted (`<<'EOF'`, `<<"EOF"`, `<<\EOF`): nothing in the body
    /// is expanded.
    quoted: bool,
}

/// Progress through a `<<` redirection, character by character.
#[derive(Debug, Default)]
enum Redirect {
    #[default]
    Idle,
    /// One unquoted `<` seen.
    Lt,
    /// `<<` seen: a `-`, a `<` (`<<<` is a here-string) or the delimiter may follow.
    LtLt,
    /// Blanks before the delimiter word.
    BeforeWord { strip_tabs: bool },
    /// Reading the delimiter word, with its own quoting.
    Word {
        text: String,
        strip_tabs: bool,
        quoted: bool,
        quote: Option<char>,
        escaped: bool,
    },
}

/// The here-documents of a command, as the reader walks it.
#[derive(Debug, Default)]
pub(super) struct Heredocs {
    redirect: Redirect,
    /// Delimiters read whose bodies have not ended, in order: bodies follow one another.
    pending: VecDeque<Heredoc>,
    /// The reader is inside the body of `pending[0]`.
    in_body: bool,
    /// The body line read so far.
    line: String,
}

/// A character that ends an unquoted word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || ";&|<>()".contains(c)
}

impl Heredocs {
    /// Whether the reader is inside a body, where characters are text, not shell syntax.
    pub(super) fn in_body(&self) -> bool {
        self.in_body
    }

    /// Takes one character of a body.
    pub(super) fn feed_body(&mut self, c: char) {
        if c != '\n' {
            self.line.push(c);
            return;
        }
        let doc = self
            .pending
            .front()
            .expect("a body belongs to a here-document");
        let line = if doc.strip_tabs {
            self.line.trim_start_matches('\t')
        } else {
            &self.line
        };
        if line == doc.delim {
            self.pending.pop_front();
            self.in_body = !self.pending.is_empty();
        }
        self.line.clear();
    }

    /// Watches one character outside bodies for `<<WORD`; `operator` says whether the character
    /// stands where the shell reads operators (not escaped, outside quotes and comments).
    pub(super) fn watch(&mut self, c: char, operator: bool) {
        self.redirect = match std::mem::take(&mut self.redirect) {
            Redirect::Idle | Redirect::Lt if !operator => Redirect::Idle,
            Redirect::Idle => match c {
                '<' => Redirect::Lt,
                _ => Redirect::Idle,
            },
            Redirect::Lt => match c {
                '<' => Redirect::LtLt,
                _ => Redirect::Idle,
            },
            Redirect::LtLt => match c {
                '<' => Redirect::Idle,
                '-' => Redirect::BeforeWord { strip_tabs: true },
                _ => self.word_start(c, false),
            },
            Redirect::BeforeWord { strip_tabs } => self.word_start(c, strip_tabs),
            Redirect::Word {
                mut text,
                strip_tabs,
                mut quoted,
                mut quote,
                mut escaped,
            } => {
                match (quote, c) {
                    _ if escaped => {
                        escaped = false;
                        text.push(c);
                    }
                    (Some(q), _) if c == q => quote = None,
                    (Some('"'), '\\') | (None, '\\') => {
                        escaped = true;
                        quoted = true;
                    }
                    (Some(_), _) => text.push(c),
                    (None, '\'' | '"') => {
                        quote = Some(c);
                        quoted = true;
                    }
                    (None, _) if ends_word(c) => {
                        self.pending.push_back(Heredoc {
                            delim: text,
                            strip_tabs,
                            quoted,
                        });
                        // `<<A<<B` or `<<A <in`: the next redirection starts here.
                        return self.watch(c, operator);
                    }
                    (None, _) => text.push(c),
                }
                Redirect::Word {
                    text,
                    strip_tabs,
                    quoted,
                    quote,
                    escaped,
                }
            }
        };
    }

    /// The state after `<<` or `<<-` and blanks, at character `c`.
    fn word_start(&mut self, c: char, strip_tabs: bool) -> Redirect {
        if c == ' ' || c == '\t' {
            return Redirect::BeforeWord { strip_tabs };
        }
        if ends_word(c) {
            // `<<` with no word is the shell's syntax error to report.
            return Redirect::Idle;
        }
        let word = Redirect::Word {
            text: String::new(),
            strip_tabs,
            quoted: false,
            quote: None,
            escaped: false,
        };
        self.redirect = word;
        self.watch(c, true);
        std::mem::take(&mut self.redirect)
    }

    /// An unquoted newline ended a command line: the bodies of its here-documents start.
    pub(super) fn line_ended(&mut self) {
        self.in_body = !self.pending.is_empty();
    }

    /// Why the placeholder `name` cannot stand here, as (message, help); `None` when it can.
    pub(super) fn refusal(&mut self, name: &str) -> Option<(String, String)> {
        let env = format!("$LABTRAIL_PARAM_{}", name.to_uppercase());
        if self.in_body {
            let doc = self
                .pending
                .front()
                .expect("a body belongs to a here-document");
            let message = format!(
                "placeholder {{{name}}} is inside a here-document (the body ending at `{}`), where no quoting of its value is safe",
                doc.delim
            );
            let unquote = if doc.quoted {
                format!(
                    "unquote the delimiter (<<{}, and escape any other $, ` and \\ in the body as \\$, \\` and \\\\) and ",
                    doc.delim
                )
            } else {
                String::new()
            };
            let help = format!(
                "{unquote}write {env} in the body instead (the parameter's value from the environment: the shell expands it without running anything in it), or print the value outside the here-document, e.g. printf '%s\\n' {{{name}}}"
            );
            return Some((message, help));
        }
        match self.redirect {
            Redirect::Idle => None,
            Redirect::Lt => {
                // `<{x}`: an input redirection from the value, an ordinary word.
                self.redirect = Redirect::Idle;
                None
            }
            _ => Some((
                format!("placeholder {{{name}}} is part of a here-document's delimiter"),
                "write the delimiter as fixed text (e.g. <<EOF) and the placeholder after it"
                    .into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::Template;

    /// The message of the error `cmd` is refused with, at placeholder `{x}`.
    fn refused(cmd: &str) -> String {
        let e = Template::parse_command(cmd).expect_err(cmd);
        assert_eq!(e.placeholder.as_deref(), Some("x"), "{cmd}");
        assert_eq!(e.offset, cmd.find("{x}").expect("test bug"), "{cmd}");
        format!("{} / {}", e.message, e.help)
    }

    /// Issue 9: a value pasted into a here-document's body was expanded (`'$(…)'` ran) or kept
    /// labtrail's quotes; every form of body is found and refused.
    #[test]
    fn placeholders_in_here_document_bodies_are_refused() {
        let m = refused("cat <<EOF\nvalue: {x}\nEOF");
        assert!(
            m.contains("here-document") && m.contains("$LABTRAIL_PARAM_X"),
            "{m}"
        );
        assert!(refused("cat <<'END'\n{x}\nEND").contains("(<<END,"));
        refused("cat <<\"END\"\n{x}\nEND");
        refused("cat << \\END\n{x}\nEND");
        refused("cat <<-EOF\n\tline\n\t{x}\n\tEOF");
        // The body runs to the delimiter line, not to a line that merely contains it.
        refused("cat <<EOF\nEOF2\n EOF\n{x}\nEOF");
        // Two here-documents on one line: their bodies follow one another.
        refused("cat <<A - <<B\na\nA\nb {x}\nB");
        refused("echo \"$(cat <<EOF\n{x}\nEOF\n)\"");
        // A body that runs to the end of the command is still a body.
        refused("cat <<EOF\n{x}");
        assert!(refused("cat <<{x}\nEOF\n{x}").contains("delimiter"));
    }

    /// Placeholders after a body, on the `<<` line after the word, or beside look-alikes, are
    /// quoted as usual.
    #[test]
    fn placeholders_outside_bodies_are_quoted() {
        let ok = |cmd: &str, want: &str| {
            let t = Template::parse_command(cmd).expect(cmd);
            assert_eq!(t.render(|_| Some("a b")), want, "{cmd}");
        };
        ok(
            "cat <<EOF > {x}\nhi\nEOF\necho {x}",
            "cat <<EOF > 'a b'\nhi\nEOF\necho 'a b'",
        );
        ok(
            "cat <<-EOF\n\thi\n\tEOF\necho {x}",
            "cat <<-EOF\n\thi\n\tEOF\necho 'a b'",
        );
        ok(
            "cat <<'E F'\nx\nE F\necho {x}",
            "cat <<'E F'\nx\nE F\necho 'a b'",
        );
        ok("cat <<< {x}", "cat <<< 'a b'");
        ok(
            "echo $((1<<2)) {x}\necho {x}",
            "echo $((1<<2)) 'a b'\necho 'a b'",
        );
        ok(
            "echo '<<EOF' {x}\necho {x}",
            "echo '<<EOF' 'a b'\necho 'a b'",
        );
        ok("echo x # <<EOF\necho {x}", "echo x # <<EOF\necho 'a b'");
        ok("sort <{x}", "sort <'a b'");
    }

    /// Issue 9: the allowed forms, run by bash and by sh, print a hostile value exactly and run
    /// nothing in it.
    #[test]
    fn allowed_forms_run_by_a_real_shell_run_nothing_in_the_value() {
        let value = "`touch PWNED1` $(touch PWNED2) '\"\\ \\` ;touch PWNED3;";
        // The form the refusal advises: the value from the environment, in an unquoted body.
        let cmd = "cat <<EOF\nfixed $LABTRAIL_PARAM_X\nEOF\nprintf '%s\\n' {x} \"{x}\" '{x}' \"$(printf '%s' {x})\" \"$(printf '%s' \"{x}\")\"";
        let rendered = Template::parse_command(cmd)
            .expect("allowed")
            .render(|_| Some(value));
        for shell in ["bash", "sh"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let out = match std::process::Command::new(shell)
                .arg("-c")
                .arg(&rendered)
                .env("LABTRAIL_PARAM_X", value)
                .current_dir(dir.path())
                .output()
            {
                Ok(out) => out,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("run {shell}: {e}"),
            };
            assert!(out.status.success(), "{shell}: {out:?}");
            let want = format!("fixed {value}\n{}", format!("{value}\n").repeat(5));
            assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{shell}");
            let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read").collect();
            assert!(left.is_empty(), "{shell} ran part of the value: {left:?}");
        }
    }
}

//! Placeholders written inside quotes, as people habitually write them (`--name "{x}"`): the
//! task must receive the value itself, and nothing in a value may be run by the shell.

mod common;

use common::Exp;

/// Issue 9: `"{x}"` put the shell-quoted value's quotes inside the argument, and a value pasted
/// into `"…"` would have its `$(…)` run; `'{x}'` broke on a value with `'`. Each place now
/// gets its own quoting, and the task sees the value, byte for byte, in all three.
#[test]
fn quoted_placeholders_pass_the_value_itself() {
    let value = r#"it's $(touch pwned) `touch pwned2` "q" \ $HOME; echo x"#;
    let toml = format!(
        r#"[experiment]
name = "quoting"
command = """
printf '%s\n' '{{v}}' > single.txt
printf '%s\n' "{{v}}" > double.txt
printf '%s\n' {{v}} > bare.txt
printf '%s\n' "$(printf '%s' '{{v}}')" > nested.txt
"""

[params]
v = [{}]
"#,
        toml_string(value)
    );
    let exp = Exp::new(&toml);
    let out = exp.run(&["--no-progress", "run", "exp.toml"]);
    assert_eq!(
        out.code(),
        0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout(),
        out.stderr()
    );
    for file in ["single.txt", "double.txt", "bare.txt", "nested.txt"] {
        let got = std::fs::read_to_string(exp.file(file)).expect("the task wrote its file");
        assert_eq!(got, format!("{value}\n"), "{file}");
    }
    assert!(!exp.file("pwned").exists(), "$(…) in a value was run");
    assert!(!exp.file("pwned2").exists(), "`…` in a value was run");
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Runs `labtrail run exp.toml` on `toml`; asserts the run is refused (exit 2, nothing run) with
/// an error at the line holding `at` that mentions each of `needles`; returns the folder.
fn assert_refused_at(toml: &str, at: &str, needles: &[&str]) -> Exp {
    let line = toml
        .lines()
        .position(|l| l.contains(at))
        .expect("test bug: `at` is in the file")
        + 1;
    let exp = Exp::new(toml);
    let out = exp.run(&["--no-progress", "run", "exp.toml"]);
    let stderr = out.stderr();
    assert_eq!(
        out.code(),
        2,
        "stdout:\n{}\nstderr:\n{stderr}",
        out.stdout()
    );
    assert!(
        stderr.contains(&format!("exp.toml:{line}:")),
        "the error should be at line {line}:\n{stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "stderr should mention `{n}`:\n{stderr}");
    }
    exp
}

/// Issue 9: a value pasted into a here-document's body was pasted as `'$(…)'`, which the body
/// expands: `touch PWNED_HEREDOC` ran. A placeholder in a body is refused at its line, saying
/// what to write instead.
#[test]
fn placeholder_in_a_here_document_is_refused() {
    let toml = r#"[experiment]
name = "heredoc"
command = """cat <<EOF
value: {x}
EOF"""

[params]
x = ["$(touch PWNED_HEREDOC)"]
"#;
    let exp = assert_refused_at(toml, "value: {x}", &["here-document", "$LABTRAIL_PARAM_X"]);
    assert!(!exp.file("PWNED_HEREDOC").exists(), "the value was run");

    // In a quoted here-document labtrail's quotes ended up in the text: refused too.
    let quoted = toml.replace("<<EOF", "<<'EOF'");
    assert_refused_at(&quoted, "value: {x}", &["here-document", "(<<EOF,"]);
}

/// Issue 9: in `` `echo {x}` `` the value `` `;touch PWNED;` `` closed the backticks (bash as
/// /bin/sh ran `touch PWNED`; dash failed), and backslashes in values were mangled. A placeholder
/// inside backticks is refused at its line.
#[test]
fn placeholder_in_backticks_is_refused() {
    let toml = r#"[experiment]
name = "backticks"
command = "echo result: `echo {x}`"

[params]
x = ["`;touch PWNED;`"]
"#;
    let exp = assert_refused_at(toml, "`echo {x}`", &["use $(…) instead of backticks"]);
    assert!(!exp.file("PWNED").exists(), "the value was run");
}

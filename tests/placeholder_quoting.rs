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

use crate::spec::Spec;
use std::path::Path;

fn parse(slurm: &str) -> Result<Spec, crate::spec::SpecError> {
    let text = format!(
        "[experiment]\nname = \"e\"\ncommand = \"true\"\n[run]\nexecutor = \"slurm\"\n[slurm]\n{slurm}\n"
    );
    Spec::parse(Path::new("dir/exp.toml"), text)
}

/// Issue 11: a newline in a `[slurm]` value ended its `#SBATCH` line early; it is refused at
/// its line, with the file, the field and what to do.
#[test]
fn a_newline_in_a_slurm_value_is_refused_at_its_line() {
    let e = parse("time = \"1:00:00\"\npartition = \"gpu\\n#SBATCH --mem=1T\"").unwrap_err();
    assert_eq!(e.path, Path::new("dir/exp.toml"));
    assert_eq!(e.line_col.map(|(line, _)| line), Some(8), "{e}");
    assert!(e.message.contains("slurm.partition"), "{}", e.message);
    assert!(e.message.contains("a newline"), "{}", e.message);
    assert!(
        e.help.as_deref().unwrap_or("").contains("one line"),
        "{e:?}"
    );
    // A multi-line literal string is a newline too.
    let e = parse("account = '''proj\n'''").unwrap_err();
    assert!(
        e.message.contains("slurm.account contains a newline"),
        "{}",
        e.message
    );
}

#[test]
fn other_control_characters_and_control_characters_in_names_are_refused() {
    for (entry, what) in [
        ("qos = \"a\\tb\"", "a tab"),
        ("qos = \"a\\rb\"", "a carriage return"),
        ("qos = \"a\\u0000b\"", "U+0000"),
        ("qos = \"a\\u001bb\"", "U+001B"),
        ("signal = \"B:USR1@90\\u007f\"", "U+007F"),
        ("mem = \"4G\\n\"", "a newline"),
        ("time = \"\\n1:00:00\"", "a newline"),
        ("\"x\\ny\" = \"1\"", "a newline"),
    ] {
        let e = parse(entry).unwrap_err();
        assert!(e.message.contains(what), "{entry}: {}", e.message);
        assert_eq!(e.line_col.map(|(line, _)| line), Some(7), "{entry}: {e}");
    }
    assert!(parse("partition = \"gpu\"\nconstraint = \"a100|h100\"").is_ok());
}

/// No input makes the `[slurm]` parser panic: every byte value, at every place of a value or
/// a name, gives a spec or an error.
#[test]
fn no_slurm_entry_panics() {
    for c in (0u32..0x110000)
        .step_by(997)
        .chain(0..0x80)
        .filter_map(char::from_u32)
    {
        let esc = format!("\\u{:04X}", c as u32);
        let esc = if c as u32 > 0xFFFF {
            format!("\\U{:08X}", c as u32)
        } else {
            esc
        };
        for entry in [
            format!("partition = \"{esc}\""),
            format!("time = \"1{esc}\""),
            format!("mem = \"{esc}G\""),
            format!("max_running = \"{esc}\""),
            format!("\"k{esc}\" = \"v\""),
        ] {
            let _ = parse(&entry);
        }
    }
}

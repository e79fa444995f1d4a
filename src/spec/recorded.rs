//! The experiment file's text as the store records it. A secret that only a comment or the
//! description holds is redacted before it reaches the store; one that a task runs with (in a
//! command, an environment value) must stay, since the SLURM monitor rebuilds the plan from the
//! recorded text. Archives are redacted either way.

use super::Spec;
use crate::provenance::redact::redact_text;
use std::borrow::Cow;

impl Spec {
    /// The text to record: [`Spec::source`] with its token-shaped values redacted when that
    /// changes nothing a task runs with, else the text as given.
    pub fn text_to_record(&self) -> Cow<'_, str> {
        let mut found = Vec::new();
        let redacted = redact_text(&self.source, "config", &mut found);
        if found.is_empty() || redacted == self.source {
            return Cow::Borrowed(&self.source);
        }
        match Spec::parse(&self.path, redacted.clone()) {
            Ok(other) if other.what_tasks_run() == self.what_tasks_run() => Cow::Owned(redacted),
            _ => Cow::Borrowed(&self.source),
        }
    }

    /// Everything of the spec a task's command, environment or scheduling depends on, as text:
    /// equal for two files that differ only in comments and the description. A difference in
    /// the position of a value (a `workdir` on the line of a redacted token) only keeps the
    /// text as given: the safe side.
    fn what_tasks_run(&self) -> String {
        format!(
            "{:?}",
            (
                &self.name,
                &self.params,
                &self.links,
                &self.sample,
                &self.exclude,
                &self.include,
                &self.stages,
                &self.run,
                &self.slurm,
                &self.restart,
                &self.archive,
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TOKEN: &str = "hf_CanaryTokenZz9Qw8Er7Ty6Ui5Op4As3Df";

    fn spec(text: &str) -> Spec {
        Spec::parse(Path::new("/x/exp.toml"), text.to_string()).unwrap()
    }

    /// Issue 12: a token in a comment or the description (nothing a task runs with) is not
    /// recorded in the store.
    #[test]
    fn a_token_no_task_runs_with_is_redacted() {
        let s = spec(&format!(
            "# hub token {TOKEN}\n[experiment]\nname = \"e\"\ndescription = \"uses {TOKEN}\"\ncommand = \"true\"\n"
        ));
        let text = s.text_to_record();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("[experiment]"));
    }

    /// Issue 12: a token a task's command or environment holds stays: the SLURM monitor runs
    /// tasks from the recorded text.
    #[test]
    fn a_token_a_task_runs_with_is_kept() {
        for text in [
            format!("[experiment]\nname = \"e\"\ncommand = \"login {TOKEN}\"\n"),
            format!("[experiment]\nname = \"e\"\ncommand = \"true\"\nenv = {{ HF_TOKEN = \"{TOKEN}\" }}\n"),
        ] {
            assert_eq!(spec(&text).text_to_record(), text);
        }
    }
}

//! The `labtrail` binary: parses the command line and maps errors to documented exit codes.

use clap::Parser;
use std::io::Write;

fn main() {
    let cli = labtrail::cli::Cli::parse();
    if cli.command.is_listing() {
        // Like other Unix tools, a listing ends quietly when its reader goes away (`| head`).
        // Runners and monitors keep the default of ignoring it: a closed pipe must not kill them.
        // SAFETY: setting a signal disposition before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let mut code = match labtrail::cli::main(cli) {
        Ok(code) => code,
        Err(err) => {
            // Errors name values (labels, paths): escaped, their own line breaks kept.
            let text = labtrail::cli::terminal::escape_lines(&format!("{err:#}"));
            // Not `eprintln!`: with stderr closed (`2>&1 | head -1`) it panics, exit 101.
            let _ = writeln!(std::io::stderr(), "error: {text}");
            labtrail::cli::exit_code_for(&err)
        }
    };
    if let Some(why) = labtrail::cli::output_failure() {
        // A full disk under the log the output goes to: not the success it would say.
        let _ = writeln!(std::io::stderr(), "error: {why}");
        if code == 0 {
            code = 3;
        }
    }
    std::process::exit(code);
}

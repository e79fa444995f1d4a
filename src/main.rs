//! The `labtrail` binary: parses the command line and maps errors to documented exit codes.

use clap::Parser;

fn main() {
    let cli = labtrail::cli::Cli::parse();
    let code = match labtrail::cli::main(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            labtrail::cli::exit_code_for(&err)
        }
    };
    std::process::exit(code);
}

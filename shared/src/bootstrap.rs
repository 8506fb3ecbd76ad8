//! What a function binary does before the Lambda runtime starts, when a
//! person runs it by hand: `--help` and `--version` answer and exit, instead
//! of starting a runtime that would wait for a Runtime API that is not there.

/// Answers `--help`/`-h` with `about` (what the binary is and how to run it
/// locally) and `--version`/`-V` with the version, then exits; anything else
/// returns, and the runtime starts. Lambda runs the bootstrap without
/// arguments.
pub fn answer_help(name: &str, about: &str) {
    match std::env::args().nth(1).as_deref() {
        Some("--help" | "-h") => {
            println!("{name} {}\n\n{about}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        Some("--version" | "-V") => {
            println!("{name} {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        _ => {}
    }
}

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

/// The variables the Lambda runtime reads at start (lambda_runtime's
/// `Config::from_env`, which panics without them; the Runtime API's address
/// it needs to poll). Lambda and `cargo lambda watch` set them all.
const LAMBDA_ENVIRONMENT: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// What keeps the runtime from starting in this environment: the Lambda
/// variables that are missing, or a memory size that is not a number.
pub(crate) fn missing_lambda_environment(get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut missing: Vec<String> = LAMBDA_ENVIRONMENT
        .iter()
        .filter(|var| get(var).is_none())
        .map(|var| (*var).to_string())
        .collect();
    if let Some(memory) = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        && memory.parse::<i32>().is_err()
    {
        missing.push(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE (a number of MB, not {memory:?})"
        ));
    }
    missing
}

/// Exits with a message that says what the binary is and how to run it
/// when it is started outside Lambda (by hand, from `target/`), instead of
/// the runtime's panic and backtrace.
pub fn require_lambda_environment(name: &str) {
    let missing = missing_lambda_environment(|var| std::env::var(var).ok());
    if missing.is_empty() {
        return;
    }
    eprintln!(
        "{name}: this is an AWS Lambda function, started here outside Lambda ({} not set).\n\
         Run it locally under `cargo lambda watch`: `make watch` in one terminal, then\n\
         `make invoke-{name}` (a sample event from events/) in another; `{name} --help` says more.",
        missing.join(", ")
    );
    std::process::exit(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_lambda_every_variable_the_runtime_needs_is_named() {
        assert_eq!(
            missing_lambda_environment(|_| None),
            LAMBDA_ENVIRONMENT.map(String::from).to_vec()
        );
    }

    #[test]
    fn under_lambda_nothing_is_missing_and_a_bad_memory_size_is_named() {
        let lambda = |memory: &'static str| {
            move |var: &str| match var {
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some(memory.to_string()),
                _ => Some("x".to_string()),
            }
        };
        assert!(missing_lambda_environment(lambda("128")).is_empty());
        assert_eq!(
            missing_lambda_environment(lambda("lots")),
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE (a number of MB, not \"lots\")"]
        );
    }
}

//! Structured JSON logs for both functions, through `tracing`. The level
//! comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging
//! controls) or else `RUST_LOG` (`info`, or directives such as
//! `transformer=debug,info`), defaulting to `info`.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter the environment asks for.
pub fn filter_from_env(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    if let Some(level) = lambda_level {
        let level = match level.to_ascii_uppercase().as_str() {
            "TRACE" => LevelFilter::TRACE,
            "DEBUG" => LevelFilter::DEBUG,
            "WARN" => LevelFilter::WARN,
            "ERROR" | "FATAL" => LevelFilter::ERROR,
            _ => LevelFilter::INFO,
        };
        return Targets::new().with_default(level);
    }
    rust_log
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the JSON subscriber on stdout. Safe to call more than once.
pub fn init() {
    use tracing_subscriber::prelude::*;
    let filter = filter_from_env(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn lambda_level_wins_over_rust_log() {
        let f = filter_from_env(Some("warn"), Some("trace"));
        assert!(f.would_enable("x", &Level::WARN));
        assert!(!f.would_enable("x", &Level::INFO));
        let f = filter_from_env(None, Some("transformer=debug,warn"));
        assert!(f.would_enable("transformer", &Level::DEBUG));
        assert!(!f.would_enable("other", &Level::INFO));
        let f = filter_from_env(None, None);
        assert!(f.would_enable("x", &Level::INFO));
        assert!(!f.would_enable("x", &Level::DEBUG));
    }
}

//! Structured JSON logs for both functions, through `tracing`. The level
//! comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging
//! controls) or else `RUST_LOG` (`info`, or directives such as
//! `transformer=debug,info`), defaulting to `info`.
//!
//! Not lambda_runtime's `tracing::init_default_subscriber`: that one writes
//! JSON only when the function's log format is JSON and nests an event's
//! fields under `fields`; ours always writes one flat JSON object a line
//! (the fields the alarms' metric filters and the README's log queries
//! read), and drops lambda_runtime's second report of a handled error.

use tracing::Metadata;
use tracing_subscriber::filter::{FilterFn, LevelFilter, Targets, filter_fn};

/// The filter the environment asks for.
pub(crate) fn filter_from_env(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
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
        .with(layer.with_filter(filter).with_filter(not_a_handled_error_echo()))
        .try_init();
}

/// lambda_runtime's panic layer logs every error a handler returns, in
/// Rust's debug form and under the target `lambda_runtime::layers::panic`,
/// which reads like a crash. The functions log their handled errors
/// themselves, with the message the caller sees; this drops the echo and
/// keeps the layer's report of a real panic (which carries an `error` field).
pub(crate) fn not_a_handled_error_echo() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    fn keep(meta: &Metadata<'_>) -> bool {
        !(meta.target() == PANIC_LAYER_TARGET && meta.fields().field("error").is_none())
    }
    filter_fn(keep as fn(&Metadata<'_>) -> bool)
}

/// Where lambda_runtime 1.x logs handler errors and panics.
pub(crate) const PANIC_LAYER_TARGET: &str = "lambda_runtime::layers::panic";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing::Level;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_runtimes_echo_of_a_handled_error_is_dropped_and_a_panic_kept() {
        use tracing_subscriber::prelude::*;
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(move || writer.clone())
            .with_filter(not_a_handled_error_echo());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            // What lambda_runtime's panic layer logs for a returned error...
            tracing::error!(target: "lambda_runtime::layers::panic", "{:?}", "Diagnostic { .. }");
            // ...and for a panic.
            tracing::error!(target: "lambda_runtime::layers::panic", error = ?"boom", "user handler panicked");
            // Our own report of the handled error.
            tracing::error!(error = %"not a valid Firehose transformation event", "invocation failed");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("Diagnostic"), "{text}");
        assert!(text.contains("user handler panicked"), "{text}");
        assert!(text.contains("invocation failed"), "{text}");
    }

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

//! The transformer's configuration, read once at cold start. A bad value stops
//! the function from starting, with a message naming the variable.
//!
//! `DROP_EVENT_TYPES` (comma-separated event names answered `Dropped`, e.g.
//! `LEAVE,OPEN_CHAT`; none by default), `REINGEST` (put records that do not
//! fit the 6 MB response back into the source; `true` by default; when
//! `false` they are `ProcessingFailed`) and [`MAX_ATTEMPTS`], stated once
//! below. docs/transformer.md's table is held to these by a test.

use std::collections::BTreeSet;
use std::time::Duration;

use chat_pipeline::event::{EVENT_NAMES, EventType};
use chat_pipeline::retry::RetryPolicy;
use chat_pipeline::settings::{self, IntegerSetting, SettingError};

use crate::firehose::RESPONSE_BUDGET;

/// Attempts per re-ingested record.
pub const MAX_ATTEMPTS: IntegerSetting = IntegerSetting {
    name: "MAX_ATTEMPTS",
    default: 8,
    min: 1,
    max: 20,
};

/// The names of the variables the transformer reads (template.yaml may set
/// only these).
pub const ENV_VARS: [&str; 3] = ["DROP_EVENT_TYPES", "REINGEST", "MAX_ATTEMPTS"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub drop_event_types: BTreeSet<EventType>,
    pub reingest: bool,
    pub retry: RetryPolicy,
    /// The serialized response never exceeds this many bytes.
    pub response_budget: usize,
    /// Re-ingestion stops this long before the Lambda deadline, leaving time
    /// to serialize and return the response.
    pub deadline_margin: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            drop_event_types: BTreeSet::new(),
            reingest: true,
            retry: RetryPolicy {
                max_attempts: MAX_ATTEMPTS.default as u32,
                ..RetryPolicy::default()
            },
            response_budget: RESPONSE_BUDGET,
            deadline_margin: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Reads the configuration through `lookup` (normally `std::env::var`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, SettingError> {
        let mut config = Config::default();
        if let Some(list) = settings::get(&lookup, "DROP_EVENT_TYPES") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let t = EventType::parse(name).ok_or_else(|| {
                    SettingError::new(
                        "DROP_EVENT_TYPES",
                        list.clone(),
                        format!("comma-separated event names from {EVENT_NAMES}; {name:?} is not one"),
                    )
                })?;
                config.drop_event_types.insert(t);
            }
        }
        config.reingest = settings::boolean(&lookup, "REINGEST", true)?;
        config.retry.max_attempts = MAX_ATTEMPTS.read(&lookup)? as u32;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_docs_table_states_the_default_and_range_as_the_code_does() {
        let docs = include_str!("../../../docs/transformer.md");
        let row = MAX_ATTEMPTS.doc_row();
        assert!(
            docs.lines().any(|l| l.starts_with(&row)),
            "docs/transformer.md has no row starting {row:?}"
        );
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(Config::from_env(env(&[])).unwrap(), Config::default());
    }

    #[test]
    fn reads_drop_list_case_insensitively() {
        let c = Config::from_env(env(&[
            ("DROP_EVENT_TYPES", " leave, OPEN_CHAT ,"),
            ("REINGEST", "false"),
        ]))
        .unwrap();
        assert_eq!(
            c.drop_event_types.into_iter().collect::<Vec<_>>(),
            [EventType::Leave, EventType::OpenChat]
        );
        assert!(!c.reingest);
    }

    #[test]
    fn unknown_event_name_is_a_cold_start_error_naming_it() {
        let e = Config::from_env(env(&[("DROP_EVENT_TYPES", "LEAVE,DANCE")])).unwrap_err();
        assert_eq!(e.var, "DROP_EVENT_TYPES");
        assert!(e.to_string().contains("\"DANCE\" is not one"), "{e}");
        let e = Config::from_env(env(&[("MAX_ATTEMPTS", "0")])).unwrap_err();
        assert_eq!(e.var, "MAX_ATTEMPTS");
    }
}

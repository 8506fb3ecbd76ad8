//! The transformer's configuration, read once at cold start. A bad value stops
//! the function from starting, with a message naming the variable.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DROP_EVENT_TYPES` | (none) | comma-separated event names answered `Dropped`, e.g. `LEAVE,OPEN_CHAT` |
//! | `REINGEST` | `true` | put records that do not fit the 6 MB response back into the source; when `false` they are `ProcessingFailed` |
//! | `MAX_ATTEMPTS` | `8` | attempts per re-ingested record, 1 to 20 |

use std::collections::BTreeSet;
use std::time::Duration;

use chat_pipeline::event::{EVENT_NAMES, EventType};
use chat_pipeline::retry::RetryPolicy;
use chat_pipeline::settings::{self, SettingError};

use crate::firehose::RESPONSE_BUDGET;

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
            retry: RetryPolicy::default(),
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
        config.retry.max_attempts = settings::integer(&lookup, "MAX_ATTEMPTS", 8, 1, 20)? as u32;
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

//! The producer's configuration, read once at cold start. A bad value stops
//! the function from starting, with a message naming the variable and what it
//! accepts.
//!
//! `SINK` (`kinesis`, `firehose` or `stdout`, the default: NDJSON on
//! standard output, no AWS needed) and the name it needs (`STREAM_NAME`,
//! `DELIVERY_STREAM_NAME`); `PACK_EVENTS` (`true`, the default: many events
//! a record, `chat_pipeline::packing`; `false`: one event a record); the
//! integer variables, each stated once below with its default and range
//! (`INTEGER_SETTINGS`). docs/producer.md's table is held to these by a
//! test.

use std::time::Duration;

use chat_pipeline::destination::{Destination, DestinationKind};
use chat_pipeline::retry::RetryPolicy;
use chat_pipeline::settings::{self, IntegerSetting, SettingError};

/// The names of the variables the producer reads (template.yaml may set only
/// these).
pub const ENV_VARS: [&str; 10] = [
    "SINK",
    "STREAM_NAME",
    "DELIVERY_STREAM_NAME",
    "PACK_EVENTS",
    "EVENTS_PER_INVOCATION",
    "USERS",
    "WINDOW_SECONDS",
    "PACE_SECONDS",
    "MAX_IN_FLIGHT_BATCHES",
    "MAX_ATTEMPTS",
];

/// The fewest events an invocation makes: one session is a JOIN and a LEAVE.
pub(crate) const MIN_EVENTS: u64 = 2;
/// The most events an invocation makes.
pub(crate) const MAX_EVENTS: u64 = 100_000;

/// Events per invocation.
pub const EVENTS_PER_INVOCATION: IntegerSetting = IntegerSetting {
    name: "EVENTS_PER_INVOCATION",
    default: 500,
    min: MIN_EVENTS,
    max: MAX_EVENTS,
};
/// Simulated users.
pub const USERS: IntegerSetting = IntegerSetting {
    name: "USERS",
    default: 100,
    min: 1,
    max: 10_000_000,
};
/// The length of the schedule window the event times fall in, in seconds.
pub(crate) const WINDOW_SECONDS: IntegerSetting = IntegerSetting {
    name: "WINDOW_SECONDS",
    default: 60,
    min: 1,
    max: 86_400,
};
/// Seconds over which a tick spreads its sends, evenly (0: all at once).
/// template.yaml sets 50 for its one-minute schedule: a tick's events reach
/// the stream over the minute instead of in one burst, and the next tick
/// starts after it ended.
pub const PACE_SECONDS: IntegerSetting = IntegerSetting {
    name: "PACE_SECONDS",
    default: 0,
    min: 0,
    max: 840,
};
/// Requests in flight at once.
pub(crate) const MAX_IN_FLIGHT_BATCHES: IntegerSetting = IntegerSetting {
    name: "MAX_IN_FLIGHT_BATCHES",
    default: 4,
    min: 1,
    max: 64,
};
/// Attempts per record before giving up.
pub const MAX_ATTEMPTS: IntegerSetting = IntegerSetting {
    name: "MAX_ATTEMPTS",
    default: 8,
    min: 1,
    max: 20,
};
/// Every integer variable, in the docs' order (the docs test reads it).
#[cfg(test)]
const INTEGER_SETTINGS: [IntegerSetting; 6] = [
    EVENTS_PER_INVOCATION,
    USERS,
    WINDOW_SECONDS,
    PACE_SECONDS,
    MAX_IN_FLIGHT_BATCHES,
    MAX_ATTEMPTS,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Which destination events go to, unless the invocation says otherwise
    /// (see [`Config::destination`]).
    pub sink: DestinationKind,
    pub stream_name: Option<String>,
    pub delivery_stream_name: Option<String>,
    pub events_per_invocation: u64,
    pub users: u64,
    pub window: Duration,
    /// Many events a record (`chat_pipeline::packing`), or one.
    pub pack_events: bool,
    /// Sends spread evenly over this long (zero: at once).
    pub pace: Duration,
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// Delivery stops this long before the Lambda deadline, leaving time to
    /// report what was not delivered.
    pub deadline_margin: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sink: DestinationKind::Stdout,
            stream_name: None,
            delivery_stream_name: None,
            events_per_invocation: EVENTS_PER_INVOCATION.default,
            users: USERS.default,
            window: Duration::from_secs(WINDOW_SECONDS.default),
            pack_events: true,
            pace: Duration::from_secs(PACE_SECONDS.default),
            max_in_flight: MAX_IN_FLIGHT_BATCHES.default as usize,
            retry: RetryPolicy {
                max_attempts: MAX_ATTEMPTS.default as u32,
                ..RetryPolicy::default()
            },
            deadline_margin: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Reads the configuration through `lookup` (normally `std::env::var`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, SettingError> {
        let sink = match settings::get(&lookup, "SINK") {
            None => DestinationKind::Stdout,
            Some(v) => {
                DestinationKind::parse(&v).ok_or_else(|| SettingError::new("SINK", v, DestinationKind::NAMES))?
            }
        };
        let named = Config {
            sink,
            stream_name: settings::get(&lookup, "STREAM_NAME"),
            delivery_stream_name: settings::get(&lookup, "DELIVERY_STREAM_NAME"),
            ..Config::default()
        };
        // The configured destination must be nameable: the same check the
        // producer makes for an invocation's `sink` override.
        named.destination(sink).map_err(|variable| {
            let expected = match sink {
                DestinationKind::Kinesis => "the Kinesis data stream's name (SINK=kinesis needs it)",
                _ => "the Firehose delivery stream's name (SINK=firehose needs it)",
            };
            SettingError::new(variable, "", expected)
        })?;
        let mut retry = named.retry;
        retry.max_attempts = MAX_ATTEMPTS.read(&lookup)? as u32;
        Ok(Config {
            events_per_invocation: EVENTS_PER_INVOCATION.read(&lookup)?,
            users: USERS.read(&lookup)?,
            window: Duration::from_secs(WINDOW_SECONDS.read(&lookup)?),
            pack_events: settings::boolean(&lookup, "PACK_EVENTS", true)?,
            pace: Duration::from_secs(PACE_SECONDS.read(&lookup)?),
            max_in_flight: MAX_IN_FLIGHT_BATCHES.read(&lookup)? as usize,
            retry,
            ..named
        })
    }

    /// The destination of `kind` with this configuration's names, or the
    /// variable that would name it.
    pub fn destination(&self, kind: DestinationKind) -> Result<Destination, &'static str> {
        match kind {
            DestinationKind::Kinesis => self
                .stream_name
                .clone()
                .map(|name| Destination::KinesisStream { name })
                .ok_or("STREAM_NAME"),
            DestinationKind::Firehose => self
                .delivery_stream_name
                .clone()
                .map(|name| Destination::DeliveryStream { name })
                .ok_or("DELIVERY_STREAM_NAME"),
            DestinationKind::Stdout => Ok(Destination::Stdout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_docs_table_states_each_default_and_range_as_the_code_does() {
        let docs = include_str!("../../../docs/producer.md");
        for setting in INTEGER_SETTINGS {
            let row = setting.doc_row();
            assert!(
                docs.lines().any(|l| l.starts_with(&row)),
                "docs/producer.md has no row starting {row:?}"
            );
        }
    }

    #[test]
    fn defaults_to_stdout_with_no_aws() {
        let c = Config::from_env(env(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.destination(DestinationKind::Stdout), Ok(Destination::Stdout));
        assert_eq!(c.destination(DestinationKind::Kinesis), Err("STREAM_NAME"));
        assert_eq!(c.destination(DestinationKind::Firehose), Err("DELIVERY_STREAM_NAME"));
    }

    #[test]
    fn reads_a_kinesis_configuration() {
        let c = Config::from_env(env(&[
            ("SINK", "Kinesis"),
            ("STREAM_NAME", "chat-events"),
            ("EVENTS_PER_INVOCATION", "100000"),
            ("MAX_ATTEMPTS", "3"),
        ]))
        .unwrap();
        assert_eq!(c.sink, DestinationKind::Kinesis);
        assert_eq!(c.stream_name.as_deref(), Some("chat-events"));
        assert_eq!(c.events_per_invocation, 100_000);
        assert_eq!(c.retry.max_attempts, 3);
    }

    #[test]
    fn errors_name_the_variable_and_what_it_accepts() {
        type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);
        let cases: &[Case] = &[
            (&[("SINK", "s3")], "SINK", "kinesis, firehose or stdout"),
            (&[("SINK", "kinesis")], "STREAM_NAME", "SINK=kinesis needs it"),
            (
                &[("SINK", "firehose")],
                "DELIVERY_STREAM_NAME",
                "SINK=firehose needs it",
            ),
            (
                &[("EVENTS_PER_INVOCATION", "100001")],
                "EVENTS_PER_INVOCATION",
                "2 to 100000",
            ),
            (
                &[("EVENTS_PER_INVOCATION", "1")],
                "EVENTS_PER_INVOCATION",
                "2 to 100000",
            ),
            (&[("USERS", "0")], "USERS", "1 to 10000000"),
            (&[("MAX_IN_FLIGHT_BATCHES", "many")], "MAX_IN_FLIGHT_BATCHES", "1 to 64"),
            (&[("MAX_ATTEMPTS", "21")], "MAX_ATTEMPTS", "1 to 20"),
            (&[("WINDOW_SECONDS", "-5")], "WINDOW_SECONDS", "1 to 86400"),
            (&[("PACE_SECONDS", "841")], "PACE_SECONDS", "0 to 840"),
            (&[("PACK_EVENTS", "maybe")], "PACK_EVENTS", "true or false"),
        ];
        for (pairs, var, expected) in cases {
            let map: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let e = Config::from_env(|k| map.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap_err();
            assert_eq!(e.var, *var, "{e}");
            assert!(e.to_string().contains(expected), "{e}");
        }
    }
}

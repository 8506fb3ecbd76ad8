//! Reading configuration from environment variables at cold start, with
//! errors that name the variable, the value and what it accepts. Functions
//! take a lookup closure instead of reading the process environment directly,
//! so tests can pass a map.

/// A configuration variable with a value it does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}={value:?} is invalid: expected {expected}")]
pub struct SettingError {
    pub var: &'static str,
    pub value: String,
    pub expected: String,
}

impl SettingError {
    pub fn new(var: &'static str, value: impl Into<String>, expected: impl Into<String>) -> Self {
        SettingError {
            var,
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// The configuration, or, when it is invalid, a log line and an exit with
/// status 1 before the runtime starts (Lambda reports `Runtime.ExitError` and
/// the message is in the function's log).
pub fn or_exit<T>(function: &str, config: Result<T, SettingError>) -> T {
    match config {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, variable = e.var, "invalid configuration");
            eprintln!("{function}: {e}");
            std::process::exit(1);
        }
    }
}

/// The value of `var`, trimmed; `None` when unset or blank.
pub fn get(lookup: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// One integer variable, stated once: its name, default and accepted range.
/// The function's config reads it ([`IntegerSetting::read`]), its `Default`
/// uses [`IntegerSetting::default`], and its docs table is held to
/// [`IntegerSetting::doc_row`] by a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegerSetting {
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
}

impl IntegerSetting {
    /// Its value through `lookup`, or the default when unset.
    pub fn read(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<u64, SettingError> {
        integer(lookup, self.name, self.default, self.min, self.max)
    }

    /// How its row in a docs table starts (`| \`NAME\` | 500 | 2 to
    /// 100,000`); the cell may go on with what the number means.
    pub fn doc_row(&self) -> String {
        format!(
            "| `{}` | {} | {} to {}",
            self.name,
            thousands(self.default),
            thousands(self.min),
            thousands(self.max)
        )
    }
}

/// `100000` as `100,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An integer in `min..=max`, or `default` when unset.
pub fn integer(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, SettingError> {
    match get(lookup, var) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(SettingError::new(var, v, format!("an integer from {min} to {max}"))),
        },
    }
}

/// A boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), or `default`
/// when unset.
pub fn boolean(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, SettingError> {
    match get(lookup, var) {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(SettingError::new(var, v, "true or false")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doc_row_writes_thousands_as_the_docs_do() {
        let s = IntegerSetting {
            name: "USERS",
            default: 100,
            min: 1,
            max: 10_000_000,
        };
        assert_eq!(s.doc_row(), "| `USERS` | 100 | 1 to 10,000,000");
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn integers_are_range_checked_and_named() {
        let e = env(&[("N", " 12 "), ("BAD", "12x"), ("BIG", "101")]);
        assert_eq!(integer(&e, "N", 5, 1, 100), Ok(12));
        assert_eq!(integer(&e, "UNSET", 5, 1, 100), Ok(5));
        assert_eq!(
            integer(&e, "BAD", 5, 1, 100).unwrap_err().to_string(),
            "environment variable BAD=\"12x\" is invalid: expected an integer from 1 to 100"
        );
        assert!(integer(&e, "BIG", 5, 1, 100).is_err());
    }

    #[test]
    fn booleans_accept_common_spellings() {
        let e = env(&[("A", "FALSE"), ("B", "1"), ("C", "maybe")]);
        assert_eq!(boolean(&e, "A", true), Ok(false));
        assert_eq!(boolean(&e, "B", false), Ok(true));
        assert_eq!(boolean(&e, "UNSET", true), Ok(true));
        assert_eq!(boolean(&e, "C", true).unwrap_err().var, "C");
    }
}

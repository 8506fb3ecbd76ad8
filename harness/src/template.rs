//! Reading `template.yaml` (CloudFormation short-form tags such as `!Sub` and
//! `!If` included) and the state machine definitions it points at, so that
//! tests can hold them to the code and the local Firehose stand-in can take
//! its delivery settings from the same source as the deployed stream.

use std::path::{Path, PathBuf};

use serde_norway::Value;

/// A template could not be read, or lacks a setting.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not YAML: {source}")]
    Parse { path: PathBuf, source: serde_norway::Error },
    #[error("template.yaml: missing {0}")]
    Missing(String),
}

/// The parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    pub root: Value,
    /// Where it was read from: a state machine's `DefinitionUri` is
    /// relative to it.
    pub path: PathBuf,
}

/// What the local Firehose stand-in needs to write objects as the deployed
/// delivery stream would.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    pub prefix: String,
    pub error_output_prefix: String,
    pub compression: String,
    /// The Lambda processor's buffer, in MiB.
    pub processor_buffer_mb: f64,
    pub processor_retries: u32,
    /// The delimiter the `RecordDeAggregation` processor splits records on
    /// (its `Delimiter`, base64 in the template), when it is on: it sits in
    /// an `!If` on the `PacksEvents` condition, on by the `PackEvents`
    /// parameter's default.
    pub deaggregation_delimiter: Option<Vec<u8>>,
}

impl Template {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        let root = serde_norway::from_str(&text).map_err(|source| TemplateError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Ok(Template {
            root,
            path: path.to_owned(),
        })
    }

    /// The repository's template.yaml.
    pub fn repository() -> Result<Self, TemplateError> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
    }

    /// `Resources.<id>.Properties`.
    pub fn properties(&self, logical_id: &str) -> Result<&Value, TemplateError> {
        at(&self.root, &["Resources", logical_id, "Properties"])
            .ok_or_else(|| TemplateError::Missing(format!("Resources.{logical_id}.Properties")))
    }

    /// The definition of the state machine `logical_id`: inline
    /// (`Definition`), or read from the file its `DefinitionUri` names
    /// (relative to the template), as `sam package` uploads it and Step
    /// Functions reads it (JSON or YAML).
    pub fn state_machine_definition(&self, logical_id: &str) -> Result<Value, TemplateError> {
        let properties = self.properties(logical_id)?;
        if let Some(inline) = at(properties, &["Definition"]) {
            return Ok(inline.clone());
        }
        let uri = at(properties, &["DefinitionUri"])
            .and_then(Value::as_str)
            .ok_or_else(|| TemplateError::Missing(format!("Resources.{logical_id}: Definition or DefinitionUri")))?;
        let path = self.path.parent().unwrap_or(Path::new(".")).join(uri);
        Ok(Template::load(&path)?.root)
    }

    /// `Resources.<id>`.
    pub fn resource(&self, logical_id: &str) -> Result<&Value, TemplateError> {
        at(&self.root, &["Resources", logical_id])
            .ok_or_else(|| TemplateError::Missing(format!("Resources.{logical_id}")))
    }

    /// The delivery stream's destination and processor settings.
    pub fn delivery_settings(&self) -> Result<DeliverySettings, TemplateError> {
        let dest = at(
            self.properties("DeliveryStream")?,
            &["ExtendedS3DestinationConfiguration"],
        )
        .ok_or_else(|| TemplateError::Missing("ExtendedS3DestinationConfiguration".into()))?;
        let text = |key: &str| {
            at(dest, &[key])
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| TemplateError::Missing(format!("ExtendedS3DestinationConfiguration.{key}")))
        };
        let processors = at(dest, &["ProcessingConfiguration", "Processors"])
            .and_then(Value::as_sequence)
            .ok_or_else(|| TemplateError::Missing("ProcessingConfiguration.Processors".into()))?;
        let processor = processors
            .iter()
            .find(|p| at(p, &["Type"]).and_then(Value::as_str) == Some("Lambda"))
            .ok_or_else(|| TemplateError::Missing("a Lambda processor".into()))?;
        let deaggregation_delimiter = self.deaggregation_delimiter(processors)?;
        let parameter = |name: &str| {
            processor_parameter(processor, name)
                .ok_or_else(|| TemplateError::Missing(format!("processor parameter {name}")))
        };
        Ok(DeliverySettings {
            prefix: text("Prefix")?,
            error_output_prefix: text("ErrorOutputPrefix")?,
            compression: text("CompressionFormat")?,
            processor_buffer_mb: parameter("BufferSizeInMBs")?
                .parse()
                .map_err(|_| TemplateError::Missing("a numeric BufferSizeInMBs".into()))?,
            processor_retries: parameter("NumberOfRetries")?
                .parse()
                .map_err(|_| TemplateError::Missing("a numeric NumberOfRetries".into()))?,
            deaggregation_delimiter,
        })
    }

    /// The `RecordDeAggregation` processor's delimiter, when the processor
    /// is on with the parameters' defaults: written as `!If [PacksEvents,
    /// processor, !Ref AWS::NoValue]`, with `PacksEvents` true when
    /// `PackEvents` is `Enabled`.
    fn deaggregation_delimiter(&self, processors: &[Value]) -> Result<Option<Vec<u8>>, TemplateError> {
        let packs = at(&self.root, &["Parameters", "PackEvents", "Default"]).and_then(Value::as_str) == Some("Enabled");
        for item in processors {
            let (processor, conditional) = match (tag(item).as_deref(), untag(item)) {
                (Some("If"), Value::Sequence(branches)) if branches.len() == 3 => {
                    let condition = branches[0].as_str().unwrap_or_default();
                    if condition != "PacksEvents" {
                        return Err(TemplateError::Missing(format!(
                            "a processor under the condition {condition}: only PacksEvents is read here"
                        )));
                    }
                    (&branches[1], true)
                }
                (_, value) => (value, false),
            };
            if at(processor, &["Type"]).and_then(Value::as_str) != Some("RecordDeAggregation") {
                continue;
            }
            if conditional && !packs {
                return Ok(None);
            }
            let parameter = |name: &str| processor_parameter(processor, name);
            if parameter("SubRecordType") != Some("DELIMITED") {
                return Err(TemplateError::Missing(
                    "RecordDeAggregation with SubRecordType DELIMITED (the one the stand-in splits)".into(),
                ));
            }
            let delimiter = parameter("Delimiter")
                .and_then(|b64| base64_simd::STANDARD.decode_to_vec(b64).ok())
                .ok_or_else(|| TemplateError::Missing("RecordDeAggregation's Delimiter, in base64".into()))?;
            return Ok(Some(delimiter));
        }
        Ok(None)
    }
}

impl Template {
    /// The template with CloudFormation's short-form tags written in their
    /// long forms (`!Ref x` as `{"Ref": "x"}`, `!GetAtt a.b` as
    /// `{"Fn::GetAtt": ["a", "b"]}`, `!Sub s` as `{"Fn::Sub": s}`), as JSON:
    /// what `chat_tools.cfn_template` reads, so a test can hold the two readers
    /// of template.yaml to the same values.
    pub fn long_form(&self) -> serde_json::Value {
        long_form(&self.root)
    }
}

/// `v` with CloudFormation's short-form tags in their long forms, as JSON
/// (see [`Template::long_form`]).
pub fn long_form(v: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => serde_json::to_value(n).unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(items.iter().map(long_form).collect()),
        Value::Mapping(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned), long_form(v)))
                .collect(),
        ),
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let name = if matches!(tag, "Ref" | "Condition") {
                tag.to_owned()
            } else {
                format!("Fn::{tag}")
            };
            let inner = match (tag, &t.value) {
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s.split_once('.').unwrap_or((s.as_str(), ""));
                    serde_json::json!([resource, attribute])
                }
                (_, value) => long_form(value),
            };
            serde_json::json!({ name: inner })
        }
    }
}

/// A Firehose processor's parameter `name` (its `ParameterValue`).
fn processor_parameter<'a>(processor: &'a Value, name: &str) -> Option<&'a str> {
    at(processor, &["Parameters"])
        .and_then(Value::as_sequence)
        .and_then(|ps| {
            ps.iter()
                .find(|p| at(p, &["ParameterName"]).and_then(Value::as_str) == Some(name))
        })
        .and_then(|p| at(p, &["ParameterValue"]))
        .and_then(Value::as_str)
}

/// The value at `path` below `v`, looking through CloudFormation tags.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| untag(v).get(*key)).map(untag)
}

/// `v` without its CloudFormation tag (`!Sub x` is `x`).
pub fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// The tag of `v` (`Sub` for `!Sub ...`), if it has one.
pub fn tag(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string().trim_start_matches('!').to_owned()),
        _ => None,
    }
}

/// The `!{partitionKeyFromLambda:KEY}` keys of an S3 prefix, in order.
pub fn lambda_partition_keys(prefix: &str) -> Vec<String> {
    prefix
        .split("!{partitionKeyFromLambda:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(k, _)| k.to_owned()))
        .collect()
}

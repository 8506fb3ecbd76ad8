//! The dashboard (template.yaml's `PipelineDashboard`) shows what the stack
//! publishes: every `ChatPipeline` metric on it is one the functions emit
//! (their `Summary::metrics` EMF names) or the curation state machine
//! publishes, every alarm is on it, and each alarm's threshold is drawn on a
//! graph of the alarm's own metric. `make deploy-local` checks the body as
//! the emulator stores it; the AWS metric names are cited in the template.

use std::collections::BTreeSet;

use harness::template::Template;
use serde_json::Value;

fn template() -> Value {
    Template::repository().unwrap().long_form()
}

/// The dashboard body as CloudFormation would render it for one source
/// type: `${Name}` becomes `<Name>`, a Number parameter its default.
fn body(t: &Value, kinesis: bool) -> Value {
    let raw = &t["Resources"]["PipelineDashboard"]["Properties"]["DashboardBody"];
    let text = render(t, raw, kinesis).expect("the body renders to text");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}): {text}"))
}

fn render(t: &Value, v: &Value, kinesis: bool) -> Option<String> {
    let Value::Object(m) = v else {
        return v.as_str().map(str::to_owned);
    };
    let (function, args) = m.iter().next().expect("an intrinsic function");
    match function.as_str() {
        "Fn::Join" => Some(
            args[1]
                .as_array()?
                .iter()
                .filter_map(|part| render(t, part, kinesis))
                .collect::<Vec<_>>()
                .join(args[0].as_str()?),
        ),
        "Fn::Sub" => Some(substitute(t, args.as_str()?)),
        "Fn::If" => {
            assert_eq!(args[0], "IsKinesisSource", "the only condition on the dashboard");
            render(t, &args[if kinesis { 1 } else { 2 }], kinesis)
        }
        "Ref" if args == "AWS::NoValue" => None,
        other => panic!("{other} in the dashboard body"),
    }
}

fn substitute(t: &Value, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${") + start;
        let name = &rest[start + 2..end];
        let parameter = &t["Parameters"][name];
        if parameter["Type"] == "Number" {
            out.push_str(&parameter["Default"].to_string());
        } else {
            out.push_str(&format!("<{name}>"));
        }
        rest = &rest[end + 1..];
    }
    out + rest
}

fn widgets(body: &Value) -> &Vec<Value> {
    body["widgets"].as_array().expect("widgets")
}

/// Each plain metric of a metric widget: [namespace, name, dimension, value].
fn metrics(widget: &Value) -> Vec<Vec<&str>> {
    widget["properties"]["metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.as_array())
                .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                .filter(|m| m.len() >= 4)
                .collect()
        })
        .unwrap_or_default()
}

fn thresholds(widget: &Value) -> Vec<(f64, &str)> {
    widget["properties"]["annotations"]["horizontal"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h["value"].as_f64().unwrap_or(f64::NAN),
                        h["label"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every `MetricName` the curation state machine's definition publishes.
fn curation_metrics(definition: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(name)) = m.get("MetricName") {
                    out.insert(name.clone());
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(definition, &mut out);
    out
}

#[test]
fn every_chat_pipeline_metric_on_the_dashboard_is_one_the_stack_publishes() {
    let t = template();
    let producer: BTreeSet<&str> = producer::handler::Summary::default()
        .metrics(0)
        .iter()
        .map(|m| m.name)
        .collect();
    let transformer: BTreeSet<&str> = transformer::handler::Summary::default()
        .metrics(0.0)
        .iter()
        .map(|m| m.name)
        .collect();
    let definition = Template::repository()
        .unwrap()
        .state_machine_definition("CurationStateMachine")
        .unwrap();
    let curation = curation_metrics(&harness::template::long_form(&definition));
    let mut seen = [0usize; 3];
    for kinesis in [true, false] {
        for widget in widgets(&body(&t, kinesis)) {
            for m in metrics(widget) {
                if m[0] != chat_pipeline::metrics::NAMESPACE {
                    continue;
                }
                let (name, dimension, value) = (m[1], m[2], m[3]);
                match (dimension, value) {
                    ("FunctionName", "<ProducerFunction>") => {
                        assert!(
                            producer.contains(name),
                            "producer metric {name} is not among {producer:?}"
                        );
                        seen[0] += 1;
                    }
                    ("FunctionName", "<TransformerFunction>") => {
                        assert!(
                            transformer.contains(name),
                            "transformer metric {name} is not among {transformer:?}"
                        );
                        seen[1] += 1;
                    }
                    ("Stack", "<AWS::StackName>") => {
                        assert!(
                            curation.contains(name),
                            "curation metric {name} is not among {curation:?}"
                        );
                        seen[2] += 1;
                    }
                    other => panic!("{name}: no part of the stack publishes it with the dimension {other:?}"),
                }
            }
        }
    }
    assert!(
        seen.iter().all(|&n| n > 0),
        "each publisher has metrics on the dashboard: {seen:?}"
    );
}

#[test]
fn every_alarm_is_on_the_dashboard_with_its_threshold_on_its_graph() {
    let t = template();
    let resources = t["Resources"].as_object().unwrap();
    let alarms: Vec<(&String, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(alarms.len() >= 12, "{} alarms", alarms.len());
    for kinesis in [true, false] {
        let body = body(&t, kinesis);
        let shown: BTreeSet<&str> = widgets(&body)
            .iter()
            .filter(|w| w["type"] == "alarm")
            .flat_map(|w| w["properties"]["alarms"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        for (name, alarm) in &alarms {
            let deployed = alarm.get("Condition").is_none() || kinesis;
            assert_eq!(
                shown.contains(format!("<{name}.Arn>").as_str()),
                deployed,
                "{name} on the alarm widgets (Kinesis source: {kinesis})"
            );
            if !deployed {
                continue;
            }
            let p = &alarm["Properties"];
            let threshold = p["Threshold"].as_f64().unwrap();
            let drawn = widgets(&body).iter().any(|w| {
                let own_metric = match p["MetricName"].as_str() {
                    Some(metric) => metrics(w).iter().any(|m| m[0] == p["Namespace"] && m[1] == metric),
                    // Metric math: the graph plots the alarm's expression.
                    None => {
                        let expression = p["Metrics"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find_map(|m| m["Expression"].as_str())
                            .unwrap();
                        w.to_string().contains(&format!("\"expression\":\"{expression}\""))
                    }
                };
                own_metric
                    && thresholds(w)
                        .iter()
                        .any(|(value, label)| *value == threshold && label.contains(name.as_str()))
            });
            assert!(drawn, "{name}: no graph of its metric draws its threshold {threshold}");
        }
    }
}

#[test]
fn the_stream_row_is_there_exactly_with_a_kinesis_source() {
    let t = template();
    for kinesis in [true, false] {
        let body = body(&t, kinesis);
        let stream = widgets(&body)
            .iter()
            .flat_map(metrics)
            .filter(|m| m[0] == "AWS/Kinesis")
            .count();
        assert_eq!(
            stream > 0,
            kinesis,
            "{stream} Kinesis metrics (Kinesis source: {kinesis})"
        );
        for w in widgets(&body) {
            let width = w["width"].as_u64().unwrap();
            assert!((1..=24).contains(&width), "width {width}: {w}");
        }
    }
}

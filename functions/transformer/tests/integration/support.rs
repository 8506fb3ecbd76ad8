//! Shared by the integration tests: run `process` as the function does and
//! hand back the answer in the serde model, after checking that the bytes the
//! function would send are exactly that model serialized.

use chat_pipeline::destination::SinkProvider;
use tokio::time::Instant;
use transformer::firehose::{TransformationEvent, TransformationResponse};
use transformer::handler::Summary;
use transformer::{Transformer, process};

/// `process`, then the rendered response checked against the serde model
/// and the summary's size; returns the model.
pub(crate) async fn answered<P: SinkProvider>(
    state: &Transformer<P>,
    event: TransformationEvent<'_>,
    deadline: Option<Instant>,
) -> (TransformationResponse, Summary) {
    let (answers, summary) = process(state, event, deadline).await.unwrap();
    let rendered = serde_json::to_vec(&answers.render()).unwrap();
    let response = answers.to_response();
    assert_eq!(
        rendered,
        serde_json::to_vec(&response).unwrap(),
        "rendered bytes and the serde model disagree"
    );
    assert_eq!(rendered.len(), summary.response_bytes, "size accounting is exact");
    (response, summary)
}

/// A current-thread runtime with timers, for properties that drive the
/// async handler from a synchronous proptest body.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

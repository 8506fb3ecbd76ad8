//! Between the Lambda runtime and the handler: a request body that starts
//! with a UTF-8 byte-order mark is handed on without it.
//!
//! lambda_runtime parses the body with serde_json, which refuses a leading
//! BOM ("expected value at line 1 column 1"), so a test event saved by an
//! editor that writes one would fail the whole invocation before any record
//! is looked at. RFC 8259 section 8.1 lets a parser ignore the mark; this
//! layer does, on the raw `LambdaInvocation` body (a cheap slice of the same
//! bytes, no copy). Records whose decoded data start with a BOM are handled
//! by `chat_pipeline::input::parse_input_event`.

use std::task::{Context, Poll};

use chat_pipeline::input::UTF8_BOM;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};

/// The layer: `Runtime::new(handler).layer(StripByteOrderMark)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StripByteOrderMark;

impl<S> Layer<S> for StripByteOrderMark {
    type Service = WithoutByteOrderMark<S>;
    fn layer(&self, inner: S) -> Self::Service {
        WithoutByteOrderMark(inner)
    }
}

/// The service [`StripByteOrderMark`] wraps around the runtime's own.
#[derive(Clone, Debug)]
pub struct WithoutByteOrderMark<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for WithoutByteOrderMark<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        if invocation.body.starts_with(UTF8_BOM) {
            invocation.body = invocation.body.slice(UTF8_BOM.len()..);
        }
        self.0.call(invocation)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use lambda_runtime::tower::service_fn;

    use super::*;

    /// A stand-in for the runtime's inner service that records the body it
    /// is handed (for this layer's tests and `raw_body`'s).
    pub(crate) fn recording_service() -> (
        Arc<Mutex<Vec<u8>>>,
        impl Service<LambdaInvocation, Response = (), Error = Infallible>,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let inner = {
            let seen = Arc::clone(&seen);
            service_fn(move |invocation: LambdaInvocation| {
                let seen = Arc::clone(&seen);
                async move {
                    seen.lock().unwrap().extend_from_slice(&invocation.body);
                    Ok::<(), Infallible>(())
                }
            })
        };
        (seen, inner)
    }

    async fn body_seen_by_the_handler(body: &'static [u8]) -> Vec<u8> {
        let (seen, inner) = recording_service();
        let invocation = LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: bytes::Bytes::from_static(body),
            context: lambda_runtime::Context::default(),
        };
        StripByteOrderMark.layer(inner).call(invocation).await.unwrap();
        seen.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn strips_a_leading_mark_and_nothing_else() {
        assert_eq!(
            body_seen_by_the_handler(b"\xEF\xBB\xBF{\"records\":[]}").await,
            b"{\"records\":[]}"
        );
        assert_eq!(body_seen_by_the_handler(b"{\"records\":[]}").await, b"{\"records\":[]}");
        assert_eq!(
            body_seen_by_the_handler(b"{\"a\":\"\xEF\xBB\xBF\"}").await,
            b"{\"a\":\"\xEF\xBB\xBF\"}",
            "only at the start"
        );
    }
}

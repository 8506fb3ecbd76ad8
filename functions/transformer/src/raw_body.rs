//! Between the Lambda runtime and the handler: the request body handed to
//! the handler as the bytes lambda_runtime received, not as a copy.
//!
//! lambda_runtime deserializes every request body into the handler's payload
//! type. For the transformer's batches (up to 6 MB) the cheapest payload it
//! offers is a `Box<RawValue>`: a validating parse plus a copy of the whole
//! body, which stays allocated beside the original until the allocator
//! returns it. [`TakeRawBody`], a layer over the raw `LambdaInvocation`,
//! moves the body's `Bytes` into [`RawBodies`] under the invocation's request
//! id and hands the runtime `null` instead, which its deserializer reads as
//! the payload [`serde::de::IgnoredAny`] for nothing; `main.rs` then takes the
//! body back by request id and calls [`crate::handle`] with it. The handler
//! validates the JSON itself ([`crate::firehose::parse_request`]), as
//! strictly as lambda_runtime did.
//!
//! Measured with `make measure`'s probe (6 MB Kinesis-source event): peak
//! RSS 36.0 to 37.1 MiB in every run through the `RawValue`; this way two
//! modes, 28.8 to 31.5 MiB in 16 of 31 runs and 34.7 to 35.8 in the rest,
//! median 31.5 (README, "Performance"). An entry is removed when the handler
//! takes it; with the sequential `Runtime::run` there is at most one.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};

/// The bodies taken from invocations that have not reached the handler yet,
/// by request id: one at a time with `Runtime::run`, several if the runtime
/// ever polls concurrently.
#[derive(Debug, Default)]
pub struct RawBodies(Mutex<HashMap<String, Bytes>>);

impl RawBodies {
    fn put(&self, request_id: String, body: Bytes) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request_id, body);
    }

    /// The body of invocation `request_id`, once.
    pub fn take(&self, request_id: &str) -> Option<Bytes> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(request_id)
    }
}

/// What the runtime deserializes in place of a body that was taken.
const TAKEN: &[u8] = b"null";

/// The layer: `Runtime::new(handler).layer(TakeRawBody(&bodies))`.
#[derive(Clone, Copy, Debug)]
pub struct TakeRawBody<'a>(pub &'a RawBodies);

impl<'a, S> Layer<S> for TakeRawBody<'a> {
    type Service = TakingRawBody<'a, S>;
    fn layer(&self, inner: S) -> Self::Service {
        TakingRawBody { bodies: self.0, inner }
    }
}

/// The service [`TakeRawBody`] wraps around the runtime's own.
#[derive(Clone, Debug)]
pub struct TakingRawBody<'a, S> {
    bodies: &'a RawBodies,
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakingRawBody<'_, S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(TAKEN));
        self.bodies.put(invocation.context.request_id.clone(), body);
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;

    use lambda_runtime::tower::service_fn;

    use super::*;

    /// A stand-in for the runtime's inner service that records the body it
    /// is handed.
    fn recording_service() -> (
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

    #[tokio::test]
    async fn the_handler_gets_the_same_bytes_and_the_runtime_gets_null() {
        let bodies = RawBodies::default();
        let (seen, inner) = recording_service();
        let body = Bytes::from_static(br#"{"records":[]}"#);
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".to_owned();
        let invocation = LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: body.clone(),
            context,
        };
        let mut service = TakeRawBody(&bodies).layer(inner);
        service.call(invocation).await.unwrap();
        assert_eq!(seen.lock().unwrap().as_slice(), TAKEN);
        let taken = bodies.take("req-1").unwrap();
        assert_eq!(taken, body);
        // The same allocation, not a copy.
        assert_eq!(taken.as_ptr(), body.as_ptr());
        assert_eq!(bodies.take("req-1"), None, "taken once");
    }
}

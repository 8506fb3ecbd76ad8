//! The Lambda runtime around [`crate::handle`]: what `main.rs` starts.
//!
//! [`run`] polls the Runtime API with lambda_runtime's `run_concurrent`
//! (sequential on classic Lambda; as many invocations at a time as
//! `AWS_LAMBDA_MAX_CONCURRENCY` on Lambda Managed Instances) and hands the
//! handler each request body as the `Bytes` the runtime received, not a copy:
//! a layer takes the body from the invocation and sets it as a task-local
//! value around the runtime's own service, and gives the runtime `null` to
//! deserialize (as [`IgnoredAny`], for nothing). The value is scoped to the
//! one invocation's future, so concurrent invocations each see their own.
//! Why the body is taken at all: docs/decisions/transformer-request-body.md.

use std::task::{Context, Poll};

use bytes::Bytes;
use chat_pipeline::destination::SinkProvider;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, LambdaInvocation, Runtime, service_fn};
use serde::de::IgnoredAny;
use tokio::task::futures::TaskLocalFuture;

use crate::handler::{Transformer, handle};

tokio::task_local! {
    /// The request body of the invocation whose future is being polled.
    static REQUEST_BODY: Bytes;
}

/// What the runtime deserializes in place of the body that was taken.
const TAKEN: &[u8] = b"null";

/// Serves invocations until the runtime stops; `state` lives as long as the
/// process (the runtime's workers share it).
pub async fn run<P>(state: Transformer<P>) -> Result<(), Error>
where
    P: SinkProvider + Send + Sync + 'static,
{
    let state: &'static Transformer<P> = Box::leak(Box::new(state));
    let handler = service_fn(move |event: LambdaEvent<IgnoredAny>| async move {
        let (_, context) = event.into_parts();
        // Set by TakeRequestBodyLayer around this future: `run` installs both.
        let body = REQUEST_BODY.with(Bytes::clone);
        handle(state, LambdaEvent::new(body, context)).await.map_err(|e| {
            tracing::error!(error = %e, "invocation failed");
            Diagnostic::from(e)
        })
    });
    Runtime::new(handler)
        .layer(TracingLayer::new())
        .layer(TakeRequestBodyLayer)
        .run_concurrent()
        .await
}

/// The layer that takes each invocation's body for the handler.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TakeRequestBodyLayer;

impl<S> Layer<S> for TakeRequestBodyLayer {
    type Service = TakeRequestBodyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TakeRequestBodyService { inner }
    }
}

/// The service [`TakeRequestBodyLayer`] wraps around the runtime's own.
#[derive(Clone, Debug)]
pub(crate) struct TakeRequestBodyService<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakeRequestBodyService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Bytes, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(TAKEN));
        REQUEST_BODY.scope(body, self.inner.call(invocation))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn invocation(body: Bytes, request_id: &str) -> LambdaInvocation {
        let mut context = lambda_runtime::Context::default();
        context.request_id = request_id.to_owned();
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body,
            context,
        }
    }

    #[tokio::test]
    async fn the_handler_sees_the_same_bytes_and_the_runtime_sees_null() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let inner = {
            let seen = Arc::clone(&seen);
            service_fn(move |invocation: LambdaInvocation| {
                let seen = Arc::clone(&seen);
                async move {
                    let handed = REQUEST_BODY.with(Bytes::clone);
                    seen.lock().unwrap().push((invocation.body, handed));
                    Ok::<(), Infallible>(())
                }
            })
        };
        let body = Bytes::from_static(br#"{"records":[]}"#);
        let mut service = TakeRequestBodyLayer.layer(inner);
        service.call(invocation(body.clone(), "req-1")).await.unwrap();
        let seen = seen.lock().unwrap();
        let (runtime_saw, handler_saw) = &seen[0];
        assert_eq!(runtime_saw.as_ref(), TAKEN);
        assert_eq!(handler_saw, &body);
        // The same allocation, not a copy.
        assert_eq!(handler_saw.as_ptr(), body.as_ptr());
    }

    #[tokio::test]
    async fn interleaved_invocations_each_see_their_own_body() {
        // Two invocations polled together on one thread, each yielding in
        // the middle: the task-local follows each future.
        let inner = service_fn(|invocation: LambdaInvocation| async move {
            let before = REQUEST_BODY.with(Bytes::clone);
            tokio::task::yield_now().await;
            let after = REQUEST_BODY.with(Bytes::clone);
            assert_eq!(before, after);
            Ok::<Bytes, Infallible>(Bytes::from(format!(
                "{}={}",
                invocation.context.request_id,
                String::from_utf8_lossy(&after)
            )))
        });
        let mut a = TakeRequestBodyLayer.layer(inner);
        let mut b = TakeRequestBodyLayer.layer(inner);
        let (ra, rb) = tokio::join!(
            a.call(invocation(Bytes::from_static(b"\"a\""), "req-a")),
            b.call(invocation(Bytes::from_static(b"\"b\""), "req-b"))
        );
        assert_eq!(ra.unwrap(), Bytes::from_static(b"req-a=\"a\""));
        assert_eq!(rb.unwrap(), Bytes::from_static(b"req-b=\"b\""));
    }
}

//! The functions' memory allocator: mimalloc, built without transparent huge
//! pages and purging freed memory after 100 ms.
//!
//! Choosing it, on the transformer (throughput: `profile_batch ...
//! handler-fresh`, since renamed `handler`, on a 2 MB Direct PUT batch; peak
//! RSS: `make measure`, a 6 MB invocation):
//!
//! | allocator | throughput | peak RSS, 6 MB event |
//! | --- | --- | --- |
//! | glibc | 235 MB/s | 29 MiB |
//! | mimalloc, defaults (huge pages, purge after 1 s) | 390 MB/s | 55 MiB |
//! | mimalloc, no huge pages, purge after 1 s | 390 MB/s | 43 MiB |
//! | mimalloc, no huge pages, purge after 10 ms | 345 MB/s | 32 MiB |
//! | mimalloc, no huge pages, purge at once | 220 MB/s | 25 MiB |
//!
//! Choosing the delay, on 2026-11-22 with inputs released early (criterion
//! `no_reingestion/handler/*/producer_events`, Direct PUT / Kinesis source;
//! `make measure` with `MIMALLOC_PURGE_DELAY`):
//!
//! | purge delay | Direct PUT | Kinesis source | peak RSS, 6 MB event |
//! | --- | --- | --- | --- |
//! | 10 ms | 309 MiB/s | 263 MiB/s | 30-32 MiB |
//! | **100 ms** | 341 MiB/s | 309 MiB/s | 40.5 MiB |
//! | 1 s | | | 40.7 MiB |
//!
//! 100 ms keeps both targets (300 MB/s of event JSON, 48 MB peak) with room:
//! a container Firehose keeps busy reuses its pages from one invocation to
//! the next, and an idle one returns them within a tenth of a second.
//!
//! Checked again after the billed-path rework (issue 10, 2026-11-22), against
//! its 32 MiB target: a 25 ms delay gives 29.5 MiB on the 6 MB event (36 MiB
//! at 100 ms) but costs 8 to 20 % of the `invocation` benchmarks
//! (`MIMALLOC_PURGE_DELAY=25 cargo bench -p transformer --
//! no_reingestion/invocation --baseline purge100`), so 100 ms stays. Once
//! the transformer took the request body from the runtime instead of a
//! `RawValue` copy (2026-11-23), the 6 MB event peaked at a median 31.5 MiB
//! at 100 ms, in two modes (31 runs: 28.8 to 31.5 MiB in 16, 34.7 to 35.8
//! in 15), which the purge timer's timing decides.
//!
//! The transformer allocates and frees tens of thousands of small strings per
//! invocation, which glibc handles poorly; mimalloc's defaults, though, back
//! its arenas with transparent huge pages and keep freed pages for a second,
//! so a short burst of allocation shows up as 2 MiB steps of resident memory.
//! Huge pages are off at build time (the `no_thp` feature); the purge delay is
//! set by [`configure`], which each binary calls first thing:
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;
//! ```

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};
pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (default 1000 ms in v3).
pub const PURGE_DELAY: mi_option_t = 15;

/// The purge delay the functions run with, in milliseconds.
pub const PURGE_DELAY_MS: i64 = 100;

/// Sets the purge delay to [`PURGE_DELAY_MS`], unless the function's
/// environment sets mimalloc's own `MIMALLOC_PURGE_DELAY`, which mimalloc has
/// then read already: that is the knob for trying another value without a
/// rebuild.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores an integer in mimalloc's option table; it
    // takes no pointers and any value is valid for this option.
    unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _) }
}

/// The current value of a mimalloc option.
// `c_long` is i64 on 64-bit Linux, where Lambda runs, but i32 on Windows.
#[allow(clippy::useless_conversion)]
pub fn option(option: mi_option_t) -> i64 {
    // SAFETY: mi_option_get reads mimalloc's option table; no pointers.
    i64::from(unsafe { mi_option_get(option) })
}

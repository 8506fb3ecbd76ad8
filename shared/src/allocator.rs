//! The functions' memory allocator: mimalloc, built without transparent huge
//! pages and purging freed memory after 100 ms.
//!
//! Why these settings, with the measurements (allocator against glibc,
//! each purge delay, the throughput and peak memory they gave, and the
//! commands): docs/performance-history.md, "The allocator".
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

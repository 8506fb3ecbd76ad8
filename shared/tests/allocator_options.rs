//! The option number `allocator::configure` uses names the option it is meant
//! to: before configuring it reads mimalloc's documented default for the purge
//! delay (which would not hold if a mimalloc upgrade renumbered the options);
//! after, the delay the functions run with. A process of its own, so nothing
//! configured it earlier.

use chat_pipeline::allocator::{self, PURGE_DELAY, PURGE_DELAY_MS};

#[test]
fn configure_sets_the_purge_delay() {
    // The default in mimalloc v3's src/options.c.
    assert_eq!(allocator::option(PURGE_DELAY), 1000, "purge_delay defaults to 1000 ms");
    allocator::configure();
    assert_eq!(allocator::option(PURGE_DELAY), PURGE_DELAY_MS);
}

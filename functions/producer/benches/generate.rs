//! Generating, serializing and batching a tick's events in-process: the
//! producer's own work before the network. Run: `cargo bench -p producer`.
//! Throughput is in events per second.

/// The allocator the deployed binary uses (see main.rs).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use chat_pipeline::batching::plan_batches;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::timestamp::Timestamp;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use producer::generator::{Plan, generate};
use producer::handler::to_records;

fn generate_serialize_batch(c: &mut Criterion) {
    chat_pipeline::allocator::configure();
    let end = Timestamp::parse_iso8601("2026-11-21T12:00:00Z").unwrap();
    let mut group = c.benchmark_group("producer");
    group.sample_size(30).measurement_time(Duration::from_secs(10));
    for events in [500usize, 100_000] {
        let plan = Plan {
            seed: 42,
            window_start: Timestamp::from_millis(end.millis() - 60_000).unwrap(),
            window_end: end,
            events,
            users: 100,
        };
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(format!("generate_serialize_batch/{events}_events"), |b| {
            b.iter(|| {
                let records = to_records(&generate(black_box(&plan))).expect("chat events encode");
                black_box(plan_batches(&records, &BatchLimits::KINESIS))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generate_serialize_batch);
criterion_main!(benches);

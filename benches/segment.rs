//! Criterion benches for the codec and the segment, each named after what it measures and its size.
//! The two-process figures come from `shmimage bench`; these isolate the pieces in one process.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shmimage::codec::{self, Encoding};
use shmimage::commands::bench::pattern;
use shmimage::ipc::segment::SegmentDir;
use shmimage::protocol::{self, Endpoint};

fn codec_benches(c: &mut Criterion) {
    let image = pattern(1024, 1024);
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(image.as_raw().len() as u64));
    group.sample_size(20);
    group.bench_function("encode_png_1mp", |b| {
        b.iter(|| codec::encode_png(&image).expect("encode"))
    });
    let png = codec::encode_png(&image).expect("encode");
    group.bench_function("decode_png_1mp", |b| {
        b.iter(|| codec::decode_bytes(&png, "bench").expect("decode"))
    });
    group.finish();
}

fn segment_benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = SegmentDir::at(tmp.path().join("segments")).expect("segment dir");
    let endpoint = Endpoint::in_dir("bench", dir.clone());
    for (name, width, height) in [("1mp", 1024, 1024), ("16mp", 4096, 4096)] {
        let image = pattern(width, height);
        let mut group = c.benchmark_group("segment");
        group.throughput(Throughput::Bytes(image.as_raw().len() as u64));
        group.sample_size(10);
        group.bench_function(format!("publish_raw_{name}"), |b| {
            b.iter(|| protocol::publish(&endpoint, &image, Encoding::Raw).expect("publish"))
        });
        let publication = protocol::publish(&endpoint, &image, Encoding::Raw).expect("publish");
        group.bench_function(format!("fetch_raw_{name}"), |b| {
            b.iter(|| protocol::fetch(&endpoint).expect("fetch"))
        });
        group.bench_function(format!("copy_floor_{name}"), |b| {
            b.iter(|| {
                shmimage::ipc::segment::measure_copy_floor(&dir, image.as_raw()).expect("floor")
            })
        });
        drop(publication);
        group.finish();
    }
}

/// What the protocol journal costs: a publish and a fetch of a tiny image (so the steps, not the
/// copies, dominate), with every step recorded and with the journal off.
fn journal_benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = SegmentDir::at(tmp.path().join("segments")).expect("segment dir");
    let image = pattern(16, 16);
    let mut group = c.benchmark_group("journal");
    for (name, journal) in [("with_journal", true), ("without_journal", false)] {
        let options = protocol::Options {
            journal,
            ..protocol::Options::default()
        };
        let endpoint =
            Endpoint::in_dir(&format!("bench-{name}"), dir.clone()).with_options(options);
        group.bench_function(format!("publish_and_fetch_16x16_{name}"), |b| {
            b.iter(|| {
                let publication =
                    protocol::publish(&endpoint, &image, Encoding::Raw).expect("publish");
                protocol::fetch(&endpoint).expect("fetch");
                drop(publication);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codec_benches, segment_benches, journal_benches);
criterion_main!(benches);

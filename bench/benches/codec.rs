//! Codec benchmarks: umqtt against mqttbytes, mqttrs (no `std`), mqtt-protocol and
//! mqtt-format on identical bytes, in the same criterion group, so every ratio comes from one
//! run. The workloads and the per-crate adapters are in `src/lib.rs`, which says how the
//! comparison is kept fair.
//!
//! Groups: `<workload>/decode` and `<workload>/encode` with one function per crate, plus
//! `memcpy` in every encode group (a copy of the packet's bytes: the floor for an encoder);
//! `stream_mixed_1MiB/decode` and `stream_publish_1KiB/decode`, which decode 1 MiB packet by
//! packet and report bytes per second.
//!
//! With `ICOUNT=<workload>/<decode|encode>/<crate>` and `ICOUNT_N=<n>` set, the binary instead
//! runs that one operation `n` times and exits, for `scripts/icount.sh` (callgrind).

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use umqtt_bench::{Crate, Inputs, Workload, decode_stream, memcpy};

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

fn bench_workload(c: &mut Criterion, w: &Workload<'_>) {
    let bytes = w.canonical_bytes();

    let mut g = c.benchmark_group(format!("{}/decode", w.name));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    for krate in Crate::CODECS.into_iter().filter(|k| k.decodes(&bytes)) {
        g.bench_function(krate.name(), |b| match krate {
            // mqttbytes consumes a `BytesMut`: a fresh one per iteration, made (and the
            // output dropped) outside the timed part.
            Crate::Mqttbytes => b.iter_batched(
                || BytesMut::from(&bytes[..]),
                |mut buf| {
                    let r = umqtt_bench::decode_mb(&mut buf);
                    (r, buf)
                },
                BatchSize::SmallInput,
            ),
            _ => b.iter(|| umqtt_bench::decode_one(krate, black_box(&bytes))),
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{}/encode", w.name));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut out = vec![0u8; bytes.len() + 64];
    let mut mbb = BytesMut::with_capacity(bytes.len() + 64);
    for krate in Crate::CODECS {
        g.bench_function(krate.name(), |b| {
            b.iter(|| black_box(w).encode(krate, black_box(&mut out[..]), black_box(&mut mbb)))
        });
    }
    g.bench_function(Crate::Memcpy.name(), |b| {
        b.iter(|| memcpy(black_box(&bytes), black_box(&mut out[..])))
    });
    g.finish();
}

fn bench_stream(c: &mut Criterion, group: &str, stream: &[u8]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    for krate in Crate::CODECS.into_iter().filter(|k| k.decodes(stream)) {
        g.bench_function(krate.name(), |b| match krate {
            Crate::Mqttbytes => b.iter_batched(
                || BytesMut::from(stream),
                |mut buf| {
                    let r = decode_stream(krate, stream, &mut buf);
                    (r, buf)
                },
                BatchSize::LargeInput,
            ),
            _ => b.iter(|| decode_stream(krate, black_box(stream), &mut BytesMut::new())),
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let inputs = Inputs::new();
    for w in &inputs.workloads() {
        bench_workload(c, w);
    }
    let (mixed, _) = umqtt_bench::mixed_stream();
    bench_stream(c, "stream_mixed_1MiB/decode", &mixed);
    let (kib, _) = umqtt_bench::publish_1k_stream();
    bench_stream(c, "stream_publish_1KiB/decode", &kib);
}

criterion_group! {
    name = codec;
    config = config();
    targets = benches
}

/// Runs one operation `n` times (see the module docs).
fn icount(spec: &str, n: usize) {
    let inputs = Inputs::new();
    let workloads = inputs.workloads();
    let mut parts = spec.split('/');
    let (Some(name), Some(op), Some(krate)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("ICOUNT must be <workload>/<decode|encode>/<crate>, got {spec}");
    };
    let krate = Crate::from_name(krate).unwrap_or_else(|| panic!("unknown crate {krate}"));
    let w = workloads
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("unknown workload {name}"));
    let bytes = w.canonical_bytes();
    let mut out = vec![0u8; bytes.len() + 64];
    let mut mbb = BytesMut::with_capacity(bytes.len() + 64);
    let mut acc = 0usize;
    // (mqttbytes consumes its input, so each of its decodes here includes making a
    // `BytesMut` copy: an allocation and a copy of the packet, which scripts/icount.sh notes.)
    for _ in 0..n {
        acc += match (op, krate) {
            ("decode", _) => umqtt_bench::decode_one(krate, black_box(&bytes)),
            ("encode", Crate::Memcpy) => memcpy(black_box(&bytes), black_box(&mut out[..])),
            ("encode", _) => black_box(w).encode(krate, black_box(&mut out[..]), black_box(&mut mbb)),
            _ => panic!("unknown operation {op}"),
        };
    }
    println!("{acc}");
}

fn main() {
    if let Ok(spec) = std::env::var("ICOUNT") {
        let n = std::env::var("ICOUNT_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        icount(&spec, n);
        return;
    }
    codec();
    Criterion::default().configure_from_args().final_summary();
}

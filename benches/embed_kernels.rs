//! The matrix products of the e5 encoder at the shape of one FFN-in layer over a 256-token
//! chunk (256 × 384 · 384 × 1536 ≈ 0.3 GFLOP): packed f32 vs int8 (VNNI where available).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lore::embed::kernels::{self, PackedI8, QuantRows};
use std::hint::black_box;

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32
                / (1u32 << 24) as f32
                - 0.5
        })
        .collect()
}

fn gemm(c: &mut Criterion) {
    let (m, k, n) = (256, 384, 1536);
    let a = data(m * k, 1);
    let w = data(n * k, 2);
    let bias = data(n, 3);
    let packed = PackedI8::from_f32(&w, &bias, n, k);
    let mut out = vec![0f32; m * n];
    let mut g = c.benchmark_group("embed_gemm_256x384x1536");
    g.throughput(Throughput::Elements((2 * m * k * n) as u64));
    g.sample_size(20);
    g.bench_function("f32_packed", |b| {
        b.iter(|| kernels::gemm_f32_packed(black_box(&a), &w, &bias, m, k, n, &mut out))
    });
    g.bench_function("int8_quantize_and_gemm", |b| {
        b.iter(|| {
            let q = QuantRows::quantize(black_box(&a), m, k);
            kernels::gemm_i8(kernels::detect_isa(), &q, &packed, &mut out, n)
        })
    });
    g.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);

//! Dot-product kernels: AVX-512, AVX2+FMA, and a portable fallback, chosen once at run time.
//!
//! Vectors are L2-normalised, so the dot product is the cosine similarity and it is the only
//! arithmetic the vector index does. The flat scan is a stream of dot products against one
//! query, so the kernel decides its speed when the matrix is in cache; out of cache, memory
//! bandwidth does, and any of the SIMD kernels saturates it.
//!
//! A [`Kernel`] can only be obtained from [`Kernel::best`] or [`Kernel::available`], which
//! check the CPU first: that is the invariant that makes calling the `target_feature`
//! functions sound.

use std::sync::OnceLock;

/// A dot-product implementation that this CPU supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Imp);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Imp {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX-512 with VNNI: the float kernels are AVX-512's; int8 codes are scored against an
    /// int8 copy of the query, 64 products per instruction (see [`Kernel::dots_i8_prepared`]).
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU supports (detected once per process).
    ///
    /// `LORE_VECTOR_KERNEL=portable|avx2|avx512` forces a slower one, for benchmarks and for
    /// ruling the SIMD code out when chasing a bug; an unsupported name is ignored.
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            let available = Kernel::available();
            let forced = std::env::var("LORE_VECTOR_KERNEL").ok();
            let chosen = forced
                .as_deref()
                .and_then(|name| available.iter().copied().find(|k| k.name() == name))
                .or_else(|| available.last().copied())
                .unwrap_or(Kernel(Imp::Portable));
            tracing::debug!(kernel = chosen.name(), "vector dot-product kernel");
            chosen
        })
    }

    /// Every kernel this CPU supports, slowest first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel(Imp::Portable)];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                kernels.push(Kernel(Imp::Avx2));
            }
            if is_x86_feature_detected!("avx512f") {
                kernels.push(Kernel(Imp::Avx512));
                if is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni") {
                    kernels.push(Kernel(Imp::Avx512Vnni));
                }
            }
        }
        kernels
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Imp::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512Vnni => "avx512vnni",
        }
    }

    /// The dot product of `a` and `b` over their common length.
    #[inline]
    pub fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        match self.0 {
            Imp::Portable => dot_portable(a, b),
            // SAFETY: a `Kernel` holding `Avx2`/`Avx512` is only built by `available` after the
            // CPU reported the features these functions are compiled for.
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2 => unsafe { x86::dot_avx2(a, b) },
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512 | Imp::Avx512Vnni => unsafe { x86::dot_avx512(a, b) },
        }
    }

    /// `out[i] = dot(row i of rows, query)` for the `out.len()` rows of `dim` floats in `rows`.
    ///
    /// One call per block of rows keeps the dispatch out of the inner loop and lets the
    /// compiler inline the SIMD dot product into the row loop.
    pub fn dots(self, rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
        let n = out.len().min(rows.len() / dim.max(1));
        let query = &query[..dim.min(query.len())];
        match self.0 {
            Imp::Portable => {
                for (o, row) in out[..n].iter_mut().zip(rows.chunks_exact(dim)) {
                    *o = dot_portable(row, query);
                }
            }
            // SAFETY: as in `dot`.
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2 => unsafe { x86::dots_avx2(rows, dim, query, &mut out[..n]) },
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512 | Imp::Avx512Vnni => unsafe {
                x86::dots_avx512(rows, dim, query, &mut out[..n])
            },
        }
    }
}

impl Kernel {
    /// `out[i] = dot(row i of codes, query)` for int8 rows of `dim` codes (the compact copy a
    /// merged index scans; see `ivf`). The query stays f32: only the stored side is
    /// quantised, so the estimate's error is the codes' alone.
    pub fn dots_i8(self, codes: &[i8], dim: usize, query: &[f32], out: &mut [f32]) {
        let n = out.len().min(codes.len() / dim.max(1));
        // The SIMD kernels read `dim` floats of the query: a short query takes the portable
        // path, which stops at the shorter side.
        let imp = if query.len() < dim {
            Imp::Portable
        } else {
            self.0
        };
        match imp {
            Imp::Portable => dots_i8_portable(codes, dim, query, &mut out[..n]),
            // SAFETY: as in `dot`; the AVX2 kernel needs only AVX2 (and FMA, also checked).
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2 => unsafe { x86::dots_i8_avx2(codes, dim, query, &mut out[..n]) },
            // SAFETY: as in `dot`.
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512 | Imp::Avx512Vnni => unsafe {
                x86::dots_i8_avx512(codes, dim, query, &mut out[..n])
            },
        }
    }

    /// A query made ready for [`Self::dots_i8_prepared`]: quantised to int8 once per search
    /// when this kernel multiplies int8 by int8.
    pub fn prepare_i8(self, query: &[f32]) -> I8Query<'_> {
        #[cfg(target_arch = "x86_64")]
        if self.0 == Imp::Avx512Vnni {
            let max = query.iter().fold(0f32, |m, x| m.max(x.abs()));
            if max > 0.0 && max.is_finite() {
                let scale = 127.0 / max;
                let codes: Vec<i8> = query
                    .iter()
                    .map(|x| (x * scale).round().clamp(-127.0, 127.0) as i8)
                    .collect();
                let sum = codes.iter().map(|&c| i32::from(c)).sum();
                return I8Query {
                    query,
                    quantised: Some(Quantised {
                        codes,
                        sum,
                        unscale: 1.0 / scale,
                    }),
                };
            }
        }
        I8Query {
            query,
            quantised: None,
        }
    }

    /// [`Self::dots_i8`] for a prepared query. With VNNI the query is int8 too: a merged
    /// index's scan ran 3× faster, and its result is only an estimate that picks candidates for
    /// exact rescoring, so the query's rounding (at most half a step of 1/127 of its largest
    /// component) costs no measurable recall.
    pub fn dots_i8_prepared(self, codes: &[i8], dim: usize, query: &I8Query<'_>, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if let (Imp::Avx512Vnni, Some(q)) = (self.0, &query.quantised) {
            if q.codes.len() >= dim {
                let n = out.len().min(codes.len() / dim.max(1));
                // SAFETY: as in `dot`; the query holds at least `dim` codes.
                unsafe { x86::dots_i8_vnni(codes, dim, &q.codes, q.sum, q.unscale, &mut out[..n]) };
                return;
            }
        }
        self.dots_i8(codes, dim, query.query, out)
    }
}

/// A query for int8 scoring (see [`Kernel::prepare_i8`]).
pub struct I8Query<'a> {
    query: &'a [f32],
    quantised: Option<Quantised>,
}

/// A query rounded to int8: `query[i] ≈ codes[i] × unscale`.
struct Quantised {
    codes: Vec<i8>,
    /// The sum of `codes` (see `x86::dots_i8_vnni`).
    sum: i32,
    unscale: f32,
}

/// The int8 × f32 dot products in plain Rust (sixteen partial sums, as in `dot_portable`).
fn dots_i8_portable(codes: &[i8], dim: usize, query: &[f32], out: &mut [f32]) {
    const LANES: usize = 16;
    for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
        let mut acc = [0f32; LANES];
        let mut cr = row.chunks_exact(LANES);
        let mut cq = query.chunks_exact(LANES);
        for (x, y) in (&mut cr).zip(&mut cq) {
            for i in 0..LANES {
                acc[i] += x[i] as f32 * y[i];
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for (x, y) in cr.remainder().iter().zip(cq.remainder()) {
            sum += *x as f32 * y;
        }
        *o = sum;
    }
}

/// Sixteen independent partial sums, so the compiler can vectorise without reassociating
/// floating-point additions (which it may not do on its own).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// int8 × f32 rows, 8 lanes at a time: sign-extend 8 codes to i32, convert, FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_i8_avx2(codes: &[i8], dim: usize, query: &[f32], out: &mut [f32]) {
        let pq = query.as_ptr();
        for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
            let pr = row.as_ptr();
            let mut acc0 = _mm256_setzero_ps();
            let mut acc1 = _mm256_setzero_ps();
            let mut i = 0;
            // SAFETY (loads): 8 codes / floats at `i` with `i + 8 <= dim`, inside the row
            // (`dim` codes) and the query (`dim` floats, checked by the caller).
            while i + 16 <= dim {
                let c0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(pr.add(i) as *const __m128i));
                let c1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(pr.add(i + 8) as *const __m128i));
                acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0), _mm256_loadu_ps(pq.add(i)), acc0);
                acc1 =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1), _mm256_loadu_ps(pq.add(i + 8)), acc1);
                i += 16;
            }
            let acc = _mm256_add_ps(acc0, acc1);
            let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
            let mut sum = _mm_cvtss_f32(s);
            while i < dim {
                sum += row[i] as f32 * query[i];
                i += 1;
            }
            *o = sum;
        }
    }

    /// int8 × f32 rows, 16 lanes at a time: sign-extend 16 codes to i32, convert, FMA; two
    /// accumulators hide the FMA latency.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dots_i8_avx512(codes: &[i8], dim: usize, query: &[f32], out: &mut [f32]) {
        let pq = query.as_ptr();
        for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
            let pr = row.as_ptr();
            let mut acc0 = _mm512_setzero_ps();
            let mut acc1 = _mm512_setzero_ps();
            let mut i = 0;
            // SAFETY (loads): 16 codes / floats at `i` with `i + 16 <= dim`, inside the row
            // and the query (both `dim` long, checked by the caller).
            while i + 32 <= dim {
                let c0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(pr.add(i) as *const __m128i));
                let c1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(pr.add(i + 16) as *const __m128i));
                acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c0), _mm512_loadu_ps(pq.add(i)), acc0);
                acc1 = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(c1),
                    _mm512_loadu_ps(pq.add(i + 16)),
                    acc1,
                );
                i += 32;
            }
            while i + 16 <= dim {
                let c0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(pr.add(i) as *const __m128i));
                acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c0), _mm512_loadu_ps(pq.add(i)), acc0);
                i += 16;
            }
            let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
            while i < dim {
                sum += row[i] as f32 * query[i];
                i += 1;
            }
            *o = sum;
        }
    }

    /// int8 × int8 rows with VNNI: `vpdpbusd` multiplies unsigned by signed bytes, so each
    /// code is flipped to `code + 128` (an XOR of the sign bit) and `128 × Σ query` is taken
    /// off the sum. Products of four bytes add into i32 lanes: 255 × 127 × 4 per lane and
    /// step, far from overflowing for any real dimension.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512BW and AVX-512 VNNI; `query` holds `dim` codes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dots_i8_vnni(
        codes: &[i8],
        dim: usize,
        query: &[i8],
        query_sum: i32,
        unscale: f32,
        out: &mut [f32],
    ) {
        let pq = query.as_ptr();
        let flip = _mm512_set1_epi8(i8::MIN);
        for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
            let pr = row.as_ptr();
            let mut acc0 = _mm512_setzero_si512();
            let mut acc1 = _mm512_setzero_si512();
            let mut i = 0;
            // SAFETY (loads): 64 bytes at `i` with `i + 64 <= dim`, inside the row and the
            // query (both at least `dim` long).
            while i + 128 <= dim {
                let c0 = _mm512_xor_si512(_mm512_loadu_si512(pr.add(i) as *const _), flip);
                let c1 = _mm512_xor_si512(_mm512_loadu_si512(pr.add(i + 64) as *const _), flip);
                acc0 = _mm512_dpbusd_epi32(acc0, c0, _mm512_loadu_si512(pq.add(i) as *const _));
                acc1 =
                    _mm512_dpbusd_epi32(acc1, c1, _mm512_loadu_si512(pq.add(i + 64) as *const _));
                i += 128;
            }
            while i + 64 <= dim {
                let c0 = _mm512_xor_si512(_mm512_loadu_si512(pr.add(i) as *const _), flip);
                acc0 = _mm512_dpbusd_epi32(acc0, c0, _mm512_loadu_si512(pq.add(i) as *const _));
                i += 64;
            }
            let mut sum = i64::from(_mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)));
            while i < dim {
                sum += (i64::from(row[i]) + 128) * i64::from(query[i]);
                i += 1;
            }
            *o = (sum - 128 * i64::from(query_sum)) as f32 * unscale;
        }
    }

    /// AVX2 + FMA dot product: four 8-lane accumulators hide the FMA latency.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut acc2 = _mm256_setzero_ps();
        let mut acc3 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads below): every load reads 8 floats at an index `i` with
        // `i + 8 <= n`, and `n` is the length of both slices. Unaligned loads are used.
        while i + 32 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            acc2 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 16)),
                _mm256_loadu_ps(pb.add(i + 16)),
                acc2,
            );
            acc3 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 24)),
                _mm256_loadu_ps(pb.add(i + 24)),
                acc3,
            );
            i += 32;
        }
        while i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
        let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        let mut sum = _mm_cvtss_f32(s);
        while i < n {
            sum += a[i] * b[i];
            i += 1;
        }
        sum
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_avx2(rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            *o = dot_avx2(row, query);
        }
    }

    /// AVX-512 dot product: four 16-lane accumulators, and a masked load for the tail so no
    /// scalar loop is needed.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut acc2 = _mm512_setzero_ps();
        let mut acc3 = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads below): full loads read 16 floats at `i` with `i + 16 <= n`; the
        // masked tail load only touches the `n - i < 16` lanes whose mask bit is set, all
        // inside both slices.
        while i + 64 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm512_fmadd_ps(
                _mm512_loadu_ps(pa.add(i + 16)),
                _mm512_loadu_ps(pb.add(i + 16)),
                acc1,
            );
            acc2 = _mm512_fmadd_ps(
                _mm512_loadu_ps(pa.add(i + 32)),
                _mm512_loadu_ps(pb.add(i + 32)),
                acc2,
            );
            acc3 = _mm512_fmadd_ps(
                _mm512_loadu_ps(pa.add(i + 48)),
                _mm512_loadu_ps(pb.add(i + 48)),
                acc3,
            );
            i += 64;
        }
        while i + 16 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = ((1u32 << (n - i)) - 1) as __mmask16;
            acc1 = _mm512_fmadd_ps(
                _mm512_maskz_loadu_ps(mask, pa.add(i)),
                _mm512_maskz_loadu_ps(mask, pb.add(i)),
                acc1,
            );
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc0, acc1),
            _mm512_add_ps(acc2, acc3),
        ))
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dots_avx512(rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
            *o = dot_avx512(row, query);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn every_kernel_matches_the_naive_dot_product_at_every_length() {
        let mut rng = super::super::synth::Rng::new(7);
        for len in (0..70).chain([383, 384, 385, 768, 1024]) {
            let a: Vec<f32> = (0..len).map(|_| rng.next_f32() - 0.5).collect();
            let b: Vec<f32> = (0..len).map(|_| rng.next_f32() - 0.5).collect();
            let want = naive(&a, &b);
            for k in Kernel::available() {
                let got = k.dot(&a, &b) as f64;
                assert!((got - want).abs() < 1e-4, "{} len {len}", k.name());
            }
        }
    }

    #[test]
    fn int8_dots_match_the_naive_dot_product() {
        let mut rng = super::super::synth::Rng::new(9);
        for dim in [1, 15, 16, 17, 37, 384] {
            let codes: Vec<i8> = (0..dim * 3)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect();
            let q: Vec<f32> = (0..dim).map(|_| rng.next_f32() - 0.5).collect();
            for k in Kernel::available() {
                let mut out = [0f32; 3];
                k.dots_i8(&codes, dim, &q, &mut out);
                for (i, o) in out.iter().enumerate() {
                    let want: f64 = codes[i * dim..(i + 1) * dim]
                        .iter()
                        .zip(&q)
                        .map(|(c, x)| *c as f64 * *x as f64)
                        .sum();
                    assert!((*o as f64 - want).abs() < 1e-2, "{} dim {dim}", k.name());
                }
            }
        }
    }

    #[test]
    fn prepared_int8_dots_are_within_the_query_rounding() {
        let mut rng = super::super::synth::Rng::new(10);
        for dim in [1, 15, 63, 64, 65, 127, 128, 200, 384] {
            let codes: Vec<i8> = (0..dim * 3)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect();
            let q: Vec<f32> = (0..dim).map(|_| rng.next_f32() - 0.5).collect();
            let max = q.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
            for k in Kernel::available() {
                let prepared = k.prepare_i8(&q);
                let mut out = [0f32; 3];
                k.dots_i8_prepared(&codes, dim, &prepared, &mut out);
                for (i, o) in out.iter().enumerate() {
                    let row = &codes[i * dim..(i + 1) * dim];
                    let want: f64 = row.iter().zip(&q).map(|(c, x)| *c as f64 * *x as f64).sum();
                    // Each query component moves by at most half a step of max/127.
                    let bound: f64 =
                        row.iter().map(|c| (*c as f64).abs()).sum::<f64>() * max / 254.0 + 1e-2;
                    assert!(
                        (*o as f64 - want).abs() <= bound,
                        "{} dim {dim}: {o} vs {want} (bound {bound})",
                        k.name()
                    );
                }
            }
        }
        // A query whose components are whole steps is scored exactly.
        let dim = 384;
        let codes: Vec<i8> = (0..dim)
            .map(|i| ((i * 37) % 255) as i32 - 127)
            .map(|c| c as i8)
            .collect();
        let q: Vec<f32> = (0..dim)
            .map(|i| (((i * 13) % 255) as f32 - 127.0) / 127.0)
            .collect();
        let want: f64 = codes
            .iter()
            .zip(&q)
            .map(|(c, x)| *c as f64 * *x as f64)
            .sum();
        for k in Kernel::available() {
            let mut out = [0f32; 1];
            k.dots_i8_prepared(&codes, dim, &k.prepare_i8(&q), &mut out);
            assert!(
                (out[0] as f64 - want).abs() < 1e-2,
                "{}: {} vs {want}",
                k.name(),
                out[0]
            );
        }
    }

    #[test]
    fn dots_scores_each_row() {
        let mut rng = super::super::synth::Rng::new(8);
        let dim = 37;
        let rows: Vec<f32> = (0..dim * 5).map(|_| rng.next_f32()).collect();
        let q: Vec<f32> = (0..dim).map(|_| rng.next_f32()).collect();
        for k in Kernel::available() {
            let mut out = [0f32; 5];
            k.dots(&rows, dim, &q, &mut out);
            for (i, o) in out.iter().enumerate() {
                let want = naive(&rows[i * dim..(i + 1) * dim], &q);
                assert!((*o as f64 - want).abs() < 1e-4, "{}", k.name());
            }
        }
    }
}

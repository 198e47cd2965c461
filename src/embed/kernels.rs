//! Numeric kernels of the encoder: the matrix products (naive, packed f32, int8 with VNNI) and
//! the element-wise functions (GELU, softmax's exp, LayerNorm).
//!
//! Why int8: almost all of the ≈11 GFLOP of a 250-token chunk are the four linear layers of
//! each block. `vpdpbusd` (AVX-512 VNNI) does 64 multiply-adds per instruction against 16 for an
//! f32 FMA, and the int8 weights are a quarter of the f32 ones, so they stay in L2. The weights
//! are already 4-bit in the file, so an 8-bit per-output-channel copy of them loses almost
//! nothing; the activations are quantized per token (row) on the fly.
//!
//! Every SIMD path has a portable twin with the same integer arithmetic; tests compare them.

use std::sync::OnceLock;

/// The instruction sets the int8 product can use, detected once at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust; works everywhere.
    Portable,
    /// AVX-512 F/BW/VL with VNNI (`vpdpbusd`).
    Avx512Vnni,
}

/// The best [`Isa`] of this CPU.
pub fn detect_isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512Vnni;
            }
        }
        Isa::Portable
    })
}

/// True when the element-wise helpers may use their AVX-512 compilation.
fn has_avx512() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Lanes of one int8 weight panel: the output columns one 512-bit register covers.
pub const PANEL: usize = 16;

/// Weights `W[n, k]` (a PyTorch `Linear`, out × in) quantized to int8 per output row and packed
/// for the VNNI product.
///
/// Layout: `panels = ceil(n / 16)` panels of 16 output columns; inside a panel, for each group
/// of 4 consecutive `k` (a "quad"), 16 lanes × 4 bytes, i.e. exactly one 64-byte register
/// whose lane `l` holds `W[16p + l, 4q .. 4q + 4]`. Bytes are stored as `w + 128` (unsigned)
/// because `vpdpbusd` multiplies unsigned by signed bytes and the activations (broadcast from
/// memory) must be the signed side; the `+128` is removed with the per-row activation sums.
/// Padding columns and padding `k` hold the value 0 (byte 128) with scale 0.
#[derive(Debug, Clone)]
pub struct PackedI8 {
    pub n: usize,
    pub k: usize,
    /// `ceil(k / 4)`.
    pub kq: usize,
    pub panels: usize,
    pub data: Vec<u8>,
    /// Per output column (padded to `panels * 16`): the dequantization scale of its row.
    pub scale: Vec<f32>,
    /// Per output column (padded): the bias.
    pub bias: Vec<f32>,
}

impl PackedI8 {
    /// Quantizes `w` (`n × k`, row-major) with a symmetric scale per row (max |w| ↦ 127).
    pub fn from_f32(w: &[f32], bias: &[f32], n: usize, k: usize) -> PackedI8 {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        let kq = k.div_ceil(4);
        let panels = n.div_ceil(PANEL);
        let mut data = vec![128u8; panels * kq * 64];
        let mut scale = vec![0f32; panels * PANEL];
        let mut b = vec![0f32; panels * PANEL];
        for row in 0..n {
            let src = &w[row * k..(row + 1) * k];
            let max = src.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 0.0 };
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            scale[row] = s;
            b[row] = bias[row];
            let (p, lane) = (row / PANEL, row % PANEL);
            for (kk, v) in src.iter().enumerate() {
                let q = round_fast(v * inv).clamp(-127.0, 127.0) as i32;
                data[(p * kq + kk / 4) * 64 + lane * 4 + kk % 4] = (q + 128) as u8;
            }
        }
        PackedI8 {
            n,
            k,
            kq,
            panels,
            data,
            scale,
            bias: b,
        }
    }

    /// Bytes held (for memory reports).
    pub fn bytes(&self) -> usize {
        self.data.len() + 8 * self.scale.len()
    }
}

/// Rows of activations quantized to int8 with one scale per row, padded to whole quads.
#[derive(Debug, Default)]
pub struct QuantRows {
    /// `rows × (kq * 4)` signed bytes.
    pub data: Vec<i8>,
    pub scale: Vec<f32>,
    /// `128 × Σ q` per row: what the `+128` of the packed weights adds to each dot product.
    pub comp: Vec<i32>,
    pub kq: usize,
}

impl QuantRows {
    /// Quantizes `rows` rows of `a` (`rows × k`, row-major), max |a| ↦ 127 per row.
    pub fn quantize(a: &[f32], rows: usize, k: usize) -> QuantRows {
        let kq = k.div_ceil(4);
        let mut q = QuantRows {
            data: vec![0i8; rows * kq * 4],
            scale: vec![0f32; rows],
            comp: vec![0i32; rows],
            kq,
        };
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            // SAFETY: features checked at run time.
            unsafe { quantize_avx512(a, k, &mut q) };
            return q;
        }
        quantize_inline(a, k, &mut q);
        q
    }
}

/// Rounds to nearest (ties to even) for |x| < 2^22 by adding and removing 1.5·2^23: plain
/// adds, so the loop vectorizes on every target (`f32::round` would be a libm call).
#[inline(always)]
fn round_fast(x: f32) -> f32 {
    (x + MAGIC) - MAGIC
}

const MAGIC: f32 = 12_582_912.0;

/// `round_fast(x)` as an integer, read from the mantissa bits of `x + 1.5·2^23` (whose unit in
/// the last place is 1). A float→int `as` cast must saturate and map NaN to 0, which the
/// compiler scalarizes; this is one integer subtraction. Valid for |x| < 2^22.
#[inline(always)]
fn round_to_i32(x: f32) -> i32 {
    (x + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

#[inline(always)]
fn quantize_inline(a: &[f32], k: usize, q: &mut QuantRows) {
    let lda = q.kq * 4;
    for (r, src) in a.chunks_exact(k).take(q.scale.len()).enumerate() {
        let max = max_abs(src);
        let s = if max > 0.0 { max / 127.0 } else { 0.0 };
        let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
        let dst = &mut q.data[r * lda..r * lda + k];
        let mut sum = 0i32;
        for (d, v) in dst.iter_mut().zip(src) {
            // |v · inv| ≤ 127 by construction: no clamp needed, the cast is exact.
            let x = round_to_i32(v * inv);
            sum += x;
            *d = x as i8;
        }
        q.scale[r] = s;
        q.comp[r] = 128 * sum;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
/// # Safety
/// The CPU must have AVX-512 F/BW/VL and FMA.
unsafe fn quantize_avx512(a: &[f32], k: usize, q: &mut QuantRows) {
    quantize_inline(a, k, q)
}

#[inline(always)]
fn max_abs(v: &[f32]) -> f32 {
    // 32 independent maxima (two registers) with plain compares, so the loop vectorizes and
    // is not one long dependency chain (`f32::max` must also handle NaN, which costs more).
    let mut m = [0f32; 32];
    let mut chunks = v.chunks_exact(32);
    for c in &mut chunks {
        for i in 0..32 {
            let a = c[i].abs();
            m[i] = if a > m[i] { a } else { m[i] };
        }
    }
    let r = chunks.remainder().iter().fold(0f32, |a, x| a.max(x.abs()));
    m.iter().fold(r, |a, &x| a.max(x))
}

/// `c[r, j] = Σ_k a[r, k] · w[j, k] · scales + bias[j]` for the `a.scale.len()` rows of `a`;
/// `c` is row-major with `ldc ≥ w.n`. Chooses the SIMD path when `isa` allows.
pub fn gemm_i8(isa: Isa, a: &QuantRows, w: &PackedI8, c: &mut [f32], ldc: usize) {
    let m = a.scale.len();
    // The fields are public, so check every length the SIMD path relies on: these asserts
    // are what make the unsafe loads and stores below in bounds.
    assert_eq!(a.kq, w.kq, "inner dimensions differ");
    assert!(
        a.data.len() >= m * a.kq * 4 && a.comp.len() >= m,
        "activation buffers too short"
    );
    assert!(
        w.panels * PANEL >= w.n && w.data.len() >= w.panels * w.kq * 64,
        "weight panels too short"
    );
    assert!(
        w.scale.len() >= w.panels * PANEL && w.bias.len() >= w.panels * PANEL,
        "weight scales too short"
    );
    assert!(ldc >= w.n, "output row stride below the column count");
    assert!(
        m == 0 || c.len() >= (m - 1) * ldc + w.n,
        "output buffer too short"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni if detect_isa() == Isa::Avx512Vnni => {
            // SAFETY: the CPU has the features (checked just above); shapes were asserted.
            unsafe { avx512::gemm_i8(a, w, c, ldc) }
        }
        _ => gemm_i8_portable(a, w, c, ldc),
    }
}

/// The portable int8 product: the same integer sums as the SIMD path, so results agree to the
/// last float rounding of the epilogue.
pub fn gemm_i8_portable(a: &QuantRows, w: &PackedI8, c: &mut [f32], ldc: usize) {
    let m = a.scale.len();
    let lda = a.kq * 4;
    for r in 0..m {
        let arow = &a.data[r * lda..(r + 1) * lda];
        for col in 0..w.n {
            let (p, lane) = (col / PANEL, col % PANEL);
            let mut acc = 0i32;
            for q in 0..w.kq {
                let wb = &w.data[(p * w.kq + q) * 64 + lane * 4..][..4];
                let ab = &arow[q * 4..q * 4 + 4];
                for i in 0..4 {
                    acc += wb[i] as i32 * ab[i] as i32;
                }
            }
            let f = (acc - a.comp[r]) as f32;
            c[r * ldc + col] = f.mul_add(a.scale[r] * w.scale[col], w.bias[col]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedI8, QuantRows, PANEL};
    use std::arch::x86_64::*;

    /// Rows per micro-tile.
    const MR: usize = 6;
    /// Panels (of 16 columns) per micro-tile: 6 × 4 = 24 accumulators + 4 weight registers.
    const NP: usize = 4;

    /// Tiled int8 product. Loop order: a group of up to 4 panels (64 columns, `64·kq` bytes of
    /// weights, L1/L2-resident) outside, micro-tiles of 6 rows inside.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F/BW/VNNI and FMA. `a.kq == w.kq`; `c` holds `m` rows of
    /// `ldc ≥ w.n` floats (the last row may be only `w.n` long).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,fma")]
    pub unsafe fn gemm_i8(a: &QuantRows, w: &PackedI8, c: &mut [f32], ldc: usize) {
        let m = a.scale.len();
        let mut p = 0;
        while p < w.panels {
            let np = NP.min(w.panels - p);
            let mut r = 0;
            while r < m {
                let mr = MR.min(m - r);
                macro_rules! go {
                    ($($mr:literal),*; $np:literal) => {
                        match mr {
                            $($mr => tile::<$mr, $np>(a, w, c, ldc, r, p),)*
                            _ => unreachable!(),
                        }
                    };
                }
                match np {
                    4 => go!(1, 2, 3, 4, 5, 6; 4),
                    3 => go!(1, 2, 3, 4, 5, 6; 3),
                    2 => go!(1, 2, 3, 4, 5, 6; 2),
                    _ => go!(1, 2, 3, 4, 5, 6; 1),
                }
                r += mr;
            }
            p += np;
        }
    }

    /// One `R × (16·P)` tile at rows `r0..`, panels `p0..`. The accumulator arrays are fully
    /// unrolled by the const generics and live in registers.
    ///
    /// # Safety
    /// As [`gemm_i8`]; additionally `r0 + R ≤ m` and `p0 + P ≤ w.panels`, so every weight load
    /// (`64` bytes at `(p·kq + q)·64`) and every 4-byte activation read (`r·lda + 4q`) is in
    /// bounds. Stores are masked to the valid columns `< w.n`.
    #[inline(always)]
    unsafe fn tile<const R: usize, const P: usize>(
        a: &QuantRows,
        w: &PackedI8,
        c: &mut [f32],
        ldc: usize,
        r0: usize,
        p0: usize,
    ) {
        let kq = w.kq;
        let lda = kq * 4;
        let ap = a.data.as_ptr().add(r0 * lda);
        let wp = w.data.as_ptr().add(p0 * kq * 64);
        let mut acc = [[_mm512_setzero_si512(); P]; R];
        for q in 0..kq {
            let mut wv = [_mm512_setzero_si512(); P];
            for (j, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wp.add((j * kq + q) * 64) as *const __m512i);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let av =
                    _mm512_set1_epi32((ap.add(i * lda + q * 4) as *const i32).read_unaligned());
                for (j, acc) in row.iter_mut().enumerate() {
                    *acc = _mm512_dpbusd_epi32(*acc, wv[j], av);
                }
            }
        }
        let cp = c.as_mut_ptr();
        for (i, row) in acc.iter().enumerate() {
            let r = r0 + i;
            let comp = _mm512_set1_epi32(a.comp[r]);
            let sa = _mm512_set1_ps(a.scale[r]);
            for (j, acc) in row.iter().enumerate() {
                let col = (p0 + j) * PANEL;
                let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(*acc, comp));
                let s = _mm512_mul_ps(sa, _mm512_loadu_ps(w.scale.as_ptr().add(col)));
                let v = _mm512_fmadd_ps(f, s, _mm512_loadu_ps(w.bias.as_ptr().add(col)));
                let dst = cp.add(r * ldc + col);
                if col + PANEL <= w.n {
                    _mm512_storeu_ps(dst, v);
                } else {
                    let mask: __mmask16 = ((1u32 << (w.n - col)) - 1) as u16;
                    _mm512_mask_storeu_ps(dst, mask, v);
                }
            }
        }
    }
}

/// `c[m × n] = a[m × k] · w[n × k]ᵀ + bias`, the textbook triple loop (one dot product per
/// output). The baseline of the speed table and the reference of the tests.
pub fn gemm_f32_naive(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    k: usize,
    n: usize,
    c: &mut [f32],
) {
    for r in 0..m {
        let arow = &a[r * k..(r + 1) * k];
        for j in 0..n {
            let wrow = &w[j * k..(j + 1) * k];
            let mut s = 0f32;
            for t in 0..k {
                s += arow[t] * wrow[t];
            }
            c[r * n + j] = s + bias[j];
        }
    }
}

/// `c[m × n] = a[m × k] · w[n × k]ᵀ + bias` with matrixmultiply's packed, blocked sgemm
/// (runtime-detected AVX2/FMA micro-kernels).
#[allow(clippy::too_many_arguments)]
pub fn gemm_f32_packed(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    k: usize,
    n: usize,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && w.len() >= n * k && c.len() >= m * n && bias.len() >= n);
    for r in 0..m {
        c[r * n..(r + 1) * n].copy_from_slice(&bias[..n]);
    }
    // SAFETY: the asserts above bound every index the strides reach.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            w.as_ptr(),
            1,
            k as isize,
            1.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// A strided view of a matrix for [`sgemm_strided`].
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View<'_> {
    fn max_index(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            return self.offset;
        }
        self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs
    }
}

/// `c = alpha · a[m × k] · b[k × n]` with arbitrary strides (attention's per-head products,
/// which read Q, K and V in place from the fused QKV matrix). `c` is row-major `m × n` with
/// row stride `ldc`. `naive` selects the textbook loop.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_strided(
    naive: bool,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: View<'_>,
    b: View<'_>,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(a.max_index(m, k) < a.data.len().max(1) || m * k == 0);
    assert!(b.max_index(k, n) < b.data.len().max(1) || k * n == 0);
    assert!(m == 0 || n == 0 || (m - 1) * ldc + n <= c.len());
    if naive {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f32;
                for t in 0..k {
                    s += a.data[a.offset + i * a.rs + t * a.cs]
                        * b.data[b.offset + t * b.rs + j * b.cs];
                }
                c[i * ldc + j] = alpha * s;
            }
        }
        return;
    }
    // SAFETY: the asserts above bound every element the strides reach.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr().add(a.offset),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr().add(b.offset),
            b.rs as isize,
            b.cs as isize,
            0.0,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// `e^x` for `x ≤ 88`, relative error < 2e-7, written without branches so loops over it
/// vectorize: `x = n·ln2 + r`, `|r| ≤ ln2/2`, a degree-6 polynomial for `e^r`, and `2^n` built in
/// the exponent bits.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = round_fast(x * std::f32::consts::LOG2_E);
    let r = n.mul_add(-0.693_145_75, x);
    let r = n.mul_add(-1.428_606_8e-6, r);
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // n ∈ [-126, 127] after the clamp, so the biased exponent n + 127 is a valid one.
    let bits = ((round_to_i32(n) + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

/// `erf(x)`, absolute error < 2e-7 (Abramowitz–Stegun 7.1.26 refined: a rational in
/// `t = 1/(1 + p|x|)` times `e^{-x²}`), branch-free for vectorization.
#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    // W. J. Cody-style coefficients of the classic 7.1.26 form have 1.5e-7 error.
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let y = 1.061_405_4;
    let y = y * t - 1.453_152_1;
    let y = y * t + 1.421_413_8;
    let y = y * t - 0.284_496_74;
    let y = y * t + 0.254_829_6;
    let y = 1.0 - y * t * exp_approx(-a * a);
    y.copysign(x)
}

#[inline(always)]
fn gelu_inline(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = 0.5 * *x * (1.0 + erf_approx(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
/// # Safety
/// The CPU must have AVX-512F and FMA.
unsafe fn gelu_avx512(v: &mut [f32]) {
    gelu_inline(v)
}

/// The exact (erf) GELU of BERT, in place.
pub fn gelu(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: features checked at run time.
        unsafe { gelu_avx512(v) };
        return;
    }
    gelu_inline(v)
}

/// Sum with 16 independent partial sums: float addition is not associative, so the compiler
/// only vectorizes a reduction written this way.
#[inline(always)]
fn sum_lanes(v: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    chunks.remainder().iter().sum::<f32>() + acc.iter().sum::<f32>()
}

/// Maximum with 16 independent partial maxima (see [`sum_lanes`]).
#[inline(always)]
fn max_lanes(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    let r = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    acc.iter().fold(r, |m, &x| if x > m { x } else { m })
}

#[inline(always)]
fn softmax_inline(row: &mut [f32]) {
    let max = max_lanes(row);
    // Three separate passes (exp, sum, scale) so each one vectorizes.
    for x in row.iter_mut() {
        *x = exp_approx(*x - max);
    }
    let inv = 1.0 / sum_lanes(row);
    for x in row.iter_mut() {
        *x *= inv;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
/// # Safety
/// The CPU must have AVX-512F and FMA.
unsafe fn softmax_rows_avx512(m: &mut [f32], n: usize) {
    for row in m.chunks_exact_mut(n) {
        softmax_inline(row)
    }
}

/// Softmax of each row of `m` (row length `n`), in place.
pub fn softmax_rows(m: &mut [f32], n: usize) {
    if n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: features checked at run time.
        unsafe { softmax_rows_avx512(m, n) };
        return;
    }
    for row in m.chunks_exact_mut(n) {
        softmax_inline(row)
    }
}

#[inline(always)]
fn add_layer_norm_inline(
    x: &mut [f32],
    residual: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    if let Some(res) = residual {
        for (a, b) in x.iter_mut().zip(res) {
            *a += b;
        }
    }
    let n = x.len() as f32;
    let mean = sum_lanes(x) / n;
    let mut acc = [0f32; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f32>()
        + acc.iter().sum::<f32>())
        / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
/// # Safety
/// The CPU must have AVX-512F and FMA.
unsafe fn add_layer_norm_avx512(
    x: &mut [f32],
    residual: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    add_layer_norm_inline(x, residual, gamma, beta, eps)
}

/// `x = LayerNorm(x + residual) · gamma + beta` over one row (post-LN BERT).
pub fn add_layer_norm(
    x: &mut [f32],
    residual: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: features checked at run time.
        unsafe { add_layer_norm_avx512(x, residual, gamma, beta, eps) };
        return;
    }
    add_layer_norm_inline(x, residual, gamma, beta, eps)
}

/// Scales `v` to unit L2 norm (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

/// IEEE half → single precision (the Q4_0 block scales). Handles subnormals, infinities, NaN.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // subnormal: value = man · 2^-24
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000,
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Dequantizes Q4_0 elements `start .. start + out.len()` of a tensor whose raw blocks are
/// `raw` (18 bytes per 32 values: f16 scale, then 16 bytes of nibbles — low nibble of byte `j`
/// is value `j`, high nibble value `j + 16`; value = (nibble − 8) · scale).
///
/// The caller guarantees `raw` holds every block the range touches.
pub fn dequant_q4_0(raw: &[u8], start: usize, out: &mut [f32]) {
    let mut i = start;
    let end = start + out.len();
    let mut o = 0;
    while i < end {
        let blk = i / 32;
        let b = &raw[blk * 18..blk * 18 + 18];
        let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        let stop = ((blk + 1) * 32).min(end);
        for idx in i..stop {
            let j = idx % 32;
            let nib = if j < 16 {
                b[2 + j] & 0x0f
            } else {
                b[2 + j - 16] >> 4
            };
            out[o] = (nib as f32 - 8.0) * d;
            o += 1;
        }
        i = stop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn rand_vec(n: usize, seed: &mut u64) -> Vec<f32> {
        (0..n).map(|_| rng(seed)).collect()
    }

    #[test]
    fn int8_simd_matches_portable_on_odd_shapes() {
        let mut seed = 7;
        for &(m, k, n) in &[
            (1, 4, 1),
            (7, 37, 23),
            (13, 64, 80),
            (6, 384, 64),
            (25, 96, 129),
        ] {
            let a = rand_vec(m * k, &mut seed);
            let w = rand_vec(n * k, &mut seed);
            let bias = rand_vec(n, &mut seed);
            let pw = PackedI8::from_f32(&w, &bias, n, k);
            let qa = QuantRows::quantize(&a, m, k);
            let ldc = n + 3;
            let mut c1 = vec![9f32; m * ldc];
            let mut c2 = vec![9f32; m * ldc];
            gemm_i8(detect_isa(), &qa, &pw, &mut c1, ldc);
            gemm_i8_portable(&qa, &pw, &mut c2, ldc);
            for (x, y) in c1.iter().zip(&c2) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "{x} vs {y} at {m}x{k}x{n}"
                );
            }
            // Padding columns of `c` are untouched.
            for r in 0..m {
                assert_eq!(&c1[r * ldc + n..r * ldc + ldc], &[9.0; 3]);
            }
            // And int8 is close to the exact product.
            let mut exact = vec![0f32; m * n];
            gemm_f32_naive(&a, &w, &bias, m, k, n, &mut exact);
            for r in 0..m {
                for j in 0..n {
                    let (x, y) = (c1[r * ldc + j], exact[r * n + j]);
                    assert!((x - y).abs() < 0.02 * (k as f32).sqrt(), "{x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn packed_f32_matches_naive() {
        let mut seed = 3;
        let (m, k, n) = (19, 70, 33);
        let a = rand_vec(m * k, &mut seed);
        let w = rand_vec(n * k, &mut seed);
        let bias = rand_vec(n, &mut seed);
        let mut c1 = vec![0f32; m * n];
        let mut c2 = vec![0f32; m * n];
        gemm_f32_naive(&a, &w, &bias, m, k, n, &mut c1);
        gemm_f32_packed(&a, &w, &bias, m, k, n, &mut c2);
        for (x, y) in c1.iter().zip(&c2) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn strided_gemm_matches_naive() {
        let mut seed = 5;
        let data = rand_vec(400, &mut seed);
        let a = View {
            data: &data,
            offset: 3,
            rs: 20,
            cs: 1,
        };
        let b = View {
            data: &data,
            offset: 7,
            rs: 1,
            cs: 20,
        };
        let (m, k, n) = (6, 8, 5);
        let mut c1 = vec![0f32; m * 9];
        let mut c2 = vec![0f32; m * 9];
        sgemm_strided(true, m, k, n, 0.5, a, b, &mut c1, 9);
        sgemm_strided(false, m, k, n, 0.5, a, b, &mut c2, 9);
        for (x, y) in c1.iter().zip(&c2) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn elementwise_functions_are_accurate() {
        for i in -2000..2000 {
            let x = i as f32 / 100.0;
            let e = exp_approx(x);
            assert!(((e - x.exp()) / x.exp()).abs() < 1e-6, "exp({x})");
        }
        let xs: Vec<f32> = (-600..600).map(|i| i as f32 / 100.0).collect();
        let mut g = xs.clone();
        gelu(&mut g);
        let mut g2 = xs.clone();
        gelu_inline(&mut g2);
        for ((x, y), z) in xs.iter().zip(&g).zip(&g2) {
            let exact = 0.5 * *x as f64 * (1.0 + libm_erf(*x as f64 / 2f64.sqrt()));
            assert!(
                (*y as f64 - exact).abs() < 1e-6,
                "gelu({x}) = {y}, want {exact}"
            );
            assert!((y - z).abs() < 1e-6);
        }
        let mut s = vec![1.0, 2.0, 3.0, 1.0, 1.0, 1.0];
        softmax_rows(&mut s, 3);
        assert!((s[0] + s[1] + s[2] - 1.0).abs() < 1e-6);
        assert!((s[3] - 1.0 / 3.0).abs() < 1e-6);
        assert!((s[2] - 0.665_240_9).abs() < 1e-6);
    }

    /// erf by its Taylor series / continued fraction in f64 for the test only.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        // Taylor series converges well for |x| ≤ 4 in f64.
        let mut sum = 0f64;
        let mut term = x;
        let mut n = 0f64;
        while term.abs() > 1e-17 || n < 5.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn f16_and_q4_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        // one block, scale 0.5: byte j = (low j) | (high j+16)
        let mut raw = vec![0x00, 0x38]; // 0.5
        for j in 0..16u8 {
            raw.push(j | ((15 - j) << 4));
        }
        let mut out = vec![0f32; 32];
        dequant_q4_0(&raw, 0, &mut out);
        assert_eq!(out[0], -4.0);
        assert_eq!(out[15], 3.5);
        assert_eq!(out[16], 3.5);
        assert_eq!(out[31], -4.0);
        let mut part = vec![0f32; 5];
        dequant_q4_0(&raw, 14, &mut part);
        assert_eq!(part, out[14..19].to_vec());
    }
}

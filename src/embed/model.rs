//! The BERT encoder of multilingual-e5-small: weights in the layout the kernels want, and the
//! forward pass from token ids to pooled, L2-normalized sentence vectors.
//!
//! A batch is **packed, not padded**: the tokens of all its sequences are concatenated into one
//! `M × hidden` matrix. The linear layers work per token, so they run as single large products
//! over all `M` rows (no FLOP is spent on padding); only attention looks across tokens, and it
//! runs per (sequence, head) on that sequence's rows. Parallelism (the caller's rayon pool)
//! splits the rows of every product, and the (sequence, head) pairs of attention.

use super::kernels::{self, Isa, PackedI8, QuantRows, View};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Which matrix-product implementation the encoder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernel {
    /// Int8 with VNNI where the CPU has it, else packed f32.
    #[default]
    Auto,
    /// Textbook loops in f32: the baseline and a reference.
    Naive,
    /// matrixmultiply's packed, blocked f32 sgemm on dequantized weights (exact w.r.t. the
    /// 4-bit weights).
    F32,
    /// Weights requantized to int8 per output channel, activations to int8 per token,
    /// `vpdpbusd` (or its portable twin) for the products; attention stays f32.
    Int8,
}

impl Kernel {
    /// `Auto` made concrete for this CPU.
    pub fn resolve(self) -> Kernel {
        match self {
            Kernel::Auto if kernels::detect_isa() == Isa::Avx512Vnni => Kernel::Int8,
            Kernel::Auto => Kernel::F32,
            k => k,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::Auto => "auto",
            Kernel::Naive => "naive",
            Kernel::F32 => "f32",
            Kernel::Int8 => "int8",
        }
    }

    pub fn parse(s: &str) -> Option<Kernel> {
        [Kernel::Auto, Kernel::Naive, Kernel::F32, Kernel::Int8]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Shape of the encoder, from the file header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub types: usize,
    pub eps: f32,
}

enum Weights {
    F32 { w: Vec<f32>, b: Vec<f32> },
    I8(PackedI8),
}

/// A linear layer `y = x·Wᵀ + b` with `W` of shape `n × k`.
struct Linear {
    n: usize,
    k: usize,
    w: Weights,
}

struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

struct Layer {
    /// Q, K and V fused into one `3·hidden × hidden` product.
    qkv: Linear,
    ao: Linear,
    aln: Norm,
    fi: Linear,
    fo: Linear,
    oln: Norm,
}

/// Loaded encoder weights.
pub struct Model {
    cfg: Config,
    kernel: Kernel,
    isa: Isa,
    /// The word embeddings stay Q4_0 (`vocab × hidden`, 54 MB instead of 384 MB of f32): only
    /// the rows of the tokens in a batch are dequantized.
    word_q4: Vec<u8>,
    pos: Vec<f32>,
    types: Vec<f32>,
    emb_ln: Norm,
    layers: Vec<Layer>,
}

impl Model {
    /// Builds the model but its word table (see [`Model::with_word_table`]).
    /// `tensor(name, elements)` returns a dequantized tensor, checked to have that many
    /// elements.
    pub fn build(
        cfg: Config,
        kernel: Kernel,
        tensor: &mut dyn FnMut(&str, usize) -> Result<Vec<f32>>,
    ) -> Result<Model> {
        let kernel = kernel.resolve();
        let (h, f) = (cfg.hidden, cfg.ffn);
        let linear = |w: Vec<f32>, b: Vec<f32>, n: usize, k: usize| -> Linear {
            let w = match kernel {
                Kernel::Int8 => Weights::I8(PackedI8::from_f32(&w, &b, n, k)),
                _ => Weights::F32 { w, b },
            };
            Linear { n, k, w }
        };
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let mut t = |s: &str, n: usize| tensor(&format!("l{i}.{s}"), n);
            let mut qkv_w = t("q.w", h * h)?;
            qkv_w.extend(t("k.w", h * h)?);
            qkv_w.extend(t("v.w", h * h)?);
            let mut qkv_b = t("q.b", h)?;
            qkv_b.extend(t("k.b", h)?);
            qkv_b.extend(t("v.b", h)?);
            layers.push(Layer {
                qkv: linear(qkv_w, qkv_b, 3 * h, h),
                ao: linear(t("ao.w", h * h)?, t("ao.b", h)?, h, h),
                aln: Norm {
                    w: t("aln.w", h)?,
                    b: t("aln.b", h)?,
                },
                fi: linear(t("fi.w", f * h)?, t("fi.b", f)?, f, h),
                fo: linear(t("fo.w", h * f)?, t("fo.b", h)?, h, f),
                oln: Norm {
                    w: t("oln.w", h)?,
                    b: t("oln.b", h)?,
                },
            });
        }
        Ok(Model {
            cfg,
            kernel,
            isa: kernels::detect_isa(),
            word_q4: Vec::new(),
            pos: tensor("emb.pos", cfg.max_positions * h)?,
            types: tensor("emb.type", cfg.types * h)?,
            emb_ln: Norm {
                w: tensor("emb.ln.w", h)?,
                b: tensor("emb.ln.b", h)?,
            },
            layers,
        })
    }

    /// Adds the raw Q4_0 blocks of `emb.word` (`vocab × hidden` values).
    pub fn with_word_table(mut self, word_q4: Vec<u8>) -> Result<Model> {
        if word_q4.len() < (self.cfg.vocab * self.cfg.hidden).div_ceil(32) * 18 {
            return Err(Error::embed(
                "word embedding table is shorter than vocab × hidden",
            ));
        }
        self.word_q4 = word_q4;
        Ok(self)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The concrete kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Approximate bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let lin = |l: &Linear| match &l.w {
            Weights::F32 { w, b } => 4 * (w.len() + b.len()),
            Weights::I8(p) => p.bytes(),
        };
        self.word_q4.len()
            + 4 * (self.pos.len() + self.types.len())
            + self
                .layers
                .iter()
                .map(|l| lin(&l.qkv) + lin(&l.ao) + lin(&l.fi) + lin(&l.fo))
                .sum::<usize>()
    }

    /// Sentence embeddings (mean over tokens, L2-normalized) of `seqs`, which must be valid:
    /// ids below the vocabulary size, 1 to `max_positions` tokens each. Runs on the current
    /// rayon pool.
    pub fn forward(&self, seqs: &[&[u32]]) -> Vec<Vec<f32>> {
        let h = self.cfg.hidden;
        let mut spans = Vec::with_capacity(seqs.len());
        let mut m = 0;
        for s in seqs {
            spans.push((m, s.len()));
            m += s.len();
        }
        let mut x = self.embed(seqs, m);
        // Buffers are allocated (and zeroed) once per forward pass, not once per layer: every
        // product overwrites all of its output.
        let mut work = Work {
            qkv: vec![0f32; m * 3 * h],
            ctx: vec![0f32; m * h],
            x1: vec![0f32; m * h],
            inter: vec![0f32; m * self.cfg.ffn],
        };
        for layer in &self.layers {
            self.layer(layer, &mut x, &spans, &mut work);
        }
        spans
            .iter()
            .map(|&(off, len)| {
                let mut v = vec![0f32; h];
                for r in off..off + len {
                    for (a, b) in v.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                        *a += b;
                    }
                }
                let inv = 1.0 / len.max(1) as f32;
                v.iter_mut().for_each(|a| *a *= inv);
                kernels::l2_normalize(&mut v);
                v
            })
            .collect()
    }

    /// Word + position + type embeddings, LayerNorm.
    fn embed(&self, seqs: &[&[u32]], m: usize) -> Vec<f32> {
        let h = self.cfg.hidden;
        let mut x = vec![0f32; m * h];
        let rows = seqs.iter().flat_map(|s| s.iter().enumerate());
        for (row, (p, &id)) in x.chunks_exact_mut(h).zip(rows) {
            kernels::dequant_q4_0(&self.word_q4, id as usize * h, row);
            let pos = &self.pos[p * h..(p + 1) * h];
            for ((v, a), b) in row.iter_mut().zip(pos).zip(&self.types[..h]) {
                *v += a + b;
            }
            kernels::add_layer_norm(row, None, &self.emb_ln.w, &self.emb_ln.b, self.cfg.eps);
        }
        x
    }

    /// One encoder block; `x` (`m × hidden`) is replaced by the block's output.
    fn layer(&self, l: &Layer, x: &mut [f32], spans: &[(usize, usize)], work: &mut Work) {
        let (h, f, eps) = (self.cfg.hidden, self.cfg.ffn, self.cfg.eps);
        let Work {
            qkv,
            ctx,
            x1,
            inter,
        } = work;
        par_rows(qkv, 3 * h, |r0, rows, out| {
            self.linear(&l.qkv, &x[r0 * h..(r0 + rows) * h], rows, out)
        });
        self.attention(qkv, spans, ctx);
        par_rows(x1, h, |r0, rows, out| {
            self.linear(&l.ao, &ctx[r0 * h..(r0 + rows) * h], rows, out);
            for (i, row) in out.chunks_exact_mut(h).enumerate() {
                let res = &x[(r0 + i) * h..(r0 + i + 1) * h];
                kernels::add_layer_norm(row, Some(res), &l.aln.w, &l.aln.b, eps);
            }
        });
        par_rows(inter, f, |r0, rows, out| {
            self.linear(&l.fi, &x1[r0 * h..(r0 + rows) * h], rows, out);
            kernels::gelu(out);
        });
        // The block's output goes straight into `x`: its residual is `x1`, not `x`.
        par_rows(x, h, |r0, rows, out| {
            self.linear(&l.fo, &inter[r0 * f..(r0 + rows) * f], rows, out);
            for (i, row) in out.chunks_exact_mut(h).enumerate() {
                let res = &x1[(r0 + i) * h..(r0 + i + 1) * h];
                kernels::add_layer_norm(row, Some(res), &l.oln.w, &l.oln.b, eps);
            }
        });
    }

    /// `out[rows × n] = x[rows × k]·Wᵀ + b` with the model's kernel.
    fn linear(&self, lin: &Linear, x: &[f32], rows: usize, out: &mut [f32]) {
        match &lin.w {
            Weights::F32 { w, b } if self.kernel == Kernel::Naive => {
                kernels::gemm_f32_naive(x, w, b, rows, lin.k, lin.n, out)
            }
            Weights::F32 { w, b } => kernels::gemm_f32_packed(x, w, b, rows, lin.k, lin.n, out),
            Weights::I8(p) => {
                let q = QuantRows::quantize(x, rows, lin.k);
                kernels::gemm_i8(self.isa, &q, p, out, lin.n)
            }
        }
    }

    /// Multi-head self-attention of every sequence, reading Q, K and V in place from the
    /// fused `m × 3h` matrix; writes the `m × h` context.
    fn attention(&self, qkv: &[f32], spans: &[(usize, usize)], ctx: &mut [f32]) {
        let h = self.cfg.hidden;
        let heads = self.cfg.heads;
        let dh = h / heads;
        let ld = 3 * h;
        let naive = self.kernel == Kernel::Naive;
        let scale = 1.0 / (dh as f32).sqrt();
        let tasks: Vec<(usize, usize)> = (0..spans.len())
            .flat_map(|s| (0..heads).map(move |hd| (s, hd)))
            .collect();
        let outs: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&(s, hd)| {
                let (off, len) = spans[s];
                let base = off * ld + hd * dh;
                let mut out = vec![0f32; len * dh];
                SCORES.with_borrow_mut(|scores| {
                    // Grown, never shrunk: no zeroing after the first use (sgemm overwrites).
                    if scores.len() < len * len {
                        scores.resize(len * len, 0.0);
                    }
                    let scores = &mut scores[..len * len];
                    let q = View {
                        data: qkv,
                        offset: base,
                        rs: ld,
                        cs: 1,
                    };
                    let kt = View {
                        data: qkv,
                        offset: base + h,
                        rs: 1,
                        cs: ld,
                    };
                    kernels::sgemm_strided(naive, len, dh, len, scale, q, kt, scores, len);
                    kernels::softmax_rows(scores, len);
                    let p = View {
                        data: scores,
                        offset: 0,
                        rs: len,
                        cs: 1,
                    };
                    let v = View {
                        data: qkv,
                        offset: base + 2 * h,
                        rs: ld,
                        cs: 1,
                    };
                    kernels::sgemm_strided(naive, len, len, dh, 1.0, p, v, &mut out, dh);
                });
                out
            })
            .collect();
        for (&(s, hd), out) in tasks.iter().zip(&outs) {
            let off = spans[s].0;
            for (i, src) in out.chunks_exact(dh).enumerate() {
                let d = (off + i) * h + hd * dh;
                ctx[d..d + dh].copy_from_slice(src);
            }
        }
    }
}

/// Working buffers of one forward pass.
struct Work {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    x1: Vec<f32>,
    inter: Vec<f32>,
}

thread_local! {
    /// Attention scores of one (sequence, head), per worker thread.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f(first_row, rows, out_rows)` over the rows of `out` (row length `width`), split into
/// one contiguous block per thread of the current pool. Every row is written by exactly one
/// call, so the product, its epilogue (GELU, residual + LayerNorm) and the activation
/// quantization all happen on the thread that owns the rows.
fn par_rows<F>(out: &mut [f32], width: usize, f: F)
where
    F: Fn(usize, usize, &mut [f32]) + Sync,
{
    let m = out.len() / width;
    let threads = rayon::current_num_threads().max(1);
    // Below ~2 rows a thread the split costs more than it saves.
    if threads == 1 || m < 2 * threads {
        f(0, m, out);
        return;
    }
    let per = m.div_ceil(threads);
    out.par_chunks_mut(per * width)
        .enumerate()
        .for_each(|(i, chunk)| f(i * per, chunk.len() / width, chunk));
}

//! Tests of the e5 engine on a tiny synthetic model written in the E5S1 format: the real
//! loader reads it, and a straightforward reference implementation (f64, textbook loops,
//! written here independently of the engine) checks every kernel.

use super::e5::{E5Embedder, E5Options};
use super::model::Kernel;
use super::{cosine, Embedder};
use crate::error::Error;
use std::collections::HashMap;
use std::path::Path;

const H: usize = 32;
const LAYERS: usize = 2;
const HEADS: usize = 2;
const FFN: usize = 64;
const MAXPOS: usize = 24;
const TYPES: usize = 2;
const EPS: f32 = 1e-12;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        (self.next() % 2_000_000) as f32 / 1_000_000.0 - 1.0
    }
}

/// The pieces of the toy vocabulary and their scores.
fn vocabulary() -> Vec<(String, f32)> {
    let mut v: Vec<(String, f32)> = vec![
        ("<s>".into(), 0.0),
        ("<pad>".into(), 0.0),
        ("</s>".into(), 0.0),
        ("<unk>".into(), 0.0),
    ];
    let words = [
        ("▁", -3.0),
        ("▁passage", -5.0),
        ("▁query", -5.0),
        (":", -3.0),
        ("▁the", -4.0),
        ("▁cat", -6.0),
        ("▁sat", -6.5),
        ("▁on", -5.0),
        ("▁mat", -7.0),
        ("at", -5.5),
        ("▁hello", -7.0),
        ("▁world", -7.5),
        ("fi", -6.0),
        ("▁fi", -6.2),
        (".", -3.5),
    ];
    for (w, s) in words {
        v.push((w.to_string(), s));
    }
    for (i, c) in ('a'..='z').enumerate() {
        v.push((c.to_string(), -8.0 - i as f32 * 0.1));
    }
    v.push(("<mask>".into(), 0.0));
    v
}

/// A tensor as written: its exact values and its bytes in the file.
struct Tensor {
    name: String,
    dtype: u8,
    values: Vec<f32>,
    raw: Vec<u8>,
}

fn f32_tensor(name: &str, values: Vec<f32>) -> Tensor {
    Tensor {
        name: name.into(),
        dtype: 0,
        raw: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        values,
    }
}

/// Random Q4_0 values: scales `k / 1024` (exact in f16), random nibbles. The exact values are
/// known without decoding, so the reference does not share the engine's decoder.
fn q4_tensor(name: &str, count: usize, rng: &mut Rng, scale: u32) -> Tensor {
    assert_eq!(count % 32, 0);
    let mut values = Vec::with_capacity(count);
    let mut raw = Vec::new();
    for _ in 0..count / 32 {
        let k = scale / 2 + (rng.next() as u32 % scale);
        let d = k as f32 / 1024.0;
        // f16 of d = k · 2^-10 with k < 2048: exponent and mantissa from k's bits.
        let e = 31 - k.leading_zeros(); // k = 1.m · 2^e
        let bits = (((e as i32 - 10 + 15) as u16) << 10) | (((k << (10 - e)) & 0x3ff) as u16);
        raw.extend(bits.to_le_bytes());
        let nibs: Vec<u8> = (0..32).map(|_| (rng.next() % 16) as u8).collect();
        for j in 0..16 {
            raw.push(nibs[j] | (nibs[j + 16] << 4));
        }
        values.extend(nibs.iter().map(|&n| (n as f32 - 8.0) * d));
    }
    Tensor {
        name: name.into(),
        dtype: 1,
        values,
        raw,
    }
}

/// The tiny model: its tensors by name (exact values) and the file bytes.
pub(crate) struct Tiny {
    tensors: HashMap<String, Vec<f32>>,
    pub bytes: Vec<u8>,
    /// Byte position of each tensor's table entry (name → position of its dtype byte).
    pub entry_pos: HashMap<String, usize>,
    pub vocab: usize,
}

pub(crate) fn tiny_model(seed: u64) -> Tiny {
    let mut rng = Rng(seed);
    let vocab_pieces = vocabulary();
    let vocab = vocab_pieces.len() + 3; // like the real file: more rows than pieces
    let mut ts = vec![
        q4_tensor("emb.word", vocab * H, &mut rng, 60),
        f32_tensor("emb.pos", (0..MAXPOS * H).map(|_| rng.f() * 0.1).collect()),
        f32_tensor("emb.type", (0..TYPES * H).map(|_| rng.f() * 0.1).collect()),
        f32_tensor("emb.ln.w", (0..H).map(|_| 1.0 + rng.f() * 0.1).collect()),
        f32_tensor("emb.ln.b", (0..H).map(|_| rng.f() * 0.1).collect()),
    ];
    for l in 0..LAYERS {
        for (n, rows, cols) in [
            ("q", H, H),
            ("k", H, H),
            ("v", H, H),
            ("ao", H, H),
            ("fi", FFN, H),
            ("fo", H, FFN),
        ] {
            ts.push(q4_tensor(&format!("l{l}.{n}.w"), rows * cols, &mut rng, 40));
            ts.push(f32_tensor(
                &format!("l{l}.{n}.b"),
                (0..rows).map(|_| rng.f() * 0.1).collect(),
            ));
        }
        for n in ["aln", "oln"] {
            ts.push(f32_tensor(
                &format!("l{l}.{n}.w"),
                (0..H).map(|_| 1.0 + rng.f() * 0.1).collect(),
            ));
            ts.push(f32_tensor(
                &format!("l{l}.{n}.b"),
                (0..H).map(|_| rng.f() * 0.1).collect(),
            ));
        }
    }

    let mut b: Vec<u8> = Vec::new();
    b.extend(b"E5S1");
    b.extend(1u32.to_le_bytes());
    for v in [H, LAYERS, HEADS, FFN, vocab, MAXPOS, TYPES] {
        b.extend((v as i32).to_le_bytes());
    }
    b.extend(EPS.to_le_bytes());
    b.extend(32i32.to_le_bytes());
    b.extend((vocab_pieces.len() as i32).to_le_bytes());
    for id in [0i32, 2, 1, 3] {
        b.extend(id.to_le_bytes());
    }
    let blob: Vec<u8> = vocab_pieces.iter().flat_map(|p| p.0.bytes()).collect();
    b.extend((blob.len() as u64).to_le_bytes());
    let mut off = 0u32;
    b.extend(off.to_le_bytes());
    for p in &vocab_pieces {
        off += p.0.len() as u32;
        b.extend(off.to_le_bytes());
    }
    for p in &vocab_pieces {
        b.extend(p.1.to_le_bytes());
    }
    b.extend(&blob);
    let norm: Vec<(char, Vec<char>)> = vec![
        ('\t', vec![' ']),
        ('\n', vec![' ']),
        ('ﬁ', vec!['f', 'i']),
        ('\u{200d}', vec![]),
        ('Ａ', vec!['a']),
    ];
    b.extend((norm.len() as i32).to_le_bytes());
    b.extend(0u32.to_le_bytes());
    for (c, rep) in &norm {
        b.extend((*c as u32).to_le_bytes());
        b.push(rep.len() as u8);
        for r in rep {
            b.extend((*r as u32).to_le_bytes());
        }
    }
    b.extend((ts.len() as i32).to_le_bytes());
    let table_size: usize = ts.iter().map(|t| 2 + t.name.len() + 1 + 4 + 8 + 8).sum();
    let mut data_off = b.len() + table_size;
    let mut entry_pos = HashMap::new();
    for t in &ts {
        b.extend((t.name.len() as u16).to_le_bytes());
        b.extend(t.name.as_bytes());
        entry_pos.insert(t.name.clone(), b.len());
        b.push(t.dtype);
        b.extend((t.values.len() as u32).to_le_bytes());
        b.extend((data_off as u64).to_le_bytes());
        b.extend((t.raw.len() as u64).to_le_bytes());
        data_off += t.raw.len();
    }
    for t in &ts {
        b.extend(&t.raw);
    }
    assert_eq!(b.len(), data_off);
    Tiny {
        tensors: ts.into_iter().map(|t| (t.name, t.values)).collect(),
        bytes: b,
        entry_pos,
        vocab,
    }
}

impl Tiny {
    fn t(&self, name: &str) -> Vec<f64> {
        self.tensors[name].iter().map(|&v| v as f64).collect()
    }

    /// The reference forward pass in f64 with textbook loops: ids → pooled, normalized vector.
    pub fn reference(&self, ids: &[u32]) -> Vec<f32> {
        let n = ids.len();
        let ln = |x: &mut [f64], w: &[f64], b: &[f64]| {
            let mean = x.iter().sum::<f64>() / H as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / H as f64;
            for i in 0..H {
                x[i] = (x[i] - mean) / (var + EPS as f64).sqrt() * w[i] + b[i];
            }
        };
        let linear = |x: &[f64], w: &[f64], b: &[f64], out_dim: usize, in_dim: usize| -> Vec<f64> {
            (0..out_dim)
                .map(|o| b[o] + (0..in_dim).map(|i| w[o * in_dim + i] * x[i]).sum::<f64>())
                .collect()
        };
        let word = self.t("emb.word");
        let pos = self.t("emb.pos");
        let typ = self.t("emb.type");
        let mut x: Vec<Vec<f64>> = ids
            .iter()
            .enumerate()
            .map(|(p, &id)| {
                let mut v: Vec<f64> = (0..H)
                    .map(|i| word[id as usize * H + i] + pos[p * H + i] + typ[i])
                    .collect();
                ln(&mut v, &self.t("emb.ln.w"), &self.t("emb.ln.b"));
                v
            })
            .collect();
        let dh = H / HEADS;
        for l in 0..LAYERS {
            let g = |s: &str| self.t(&format!("l{l}.{s}"));
            let q: Vec<Vec<f64>> = x
                .iter()
                .map(|r| linear(r, &g("q.w"), &g("q.b"), H, H))
                .collect();
            let k: Vec<Vec<f64>> = x
                .iter()
                .map(|r| linear(r, &g("k.w"), &g("k.b"), H, H))
                .collect();
            let v: Vec<Vec<f64>> = x
                .iter()
                .map(|r| linear(r, &g("v.w"), &g("v.b"), H, H))
                .collect();
            let mut ctx = vec![vec![0f64; H]; n];
            for hd in 0..HEADS {
                for i in 0..n {
                    let s: Vec<f64> = (0..n)
                        .map(|j| {
                            (0..dh)
                                .map(|d| q[i][hd * dh + d] * k[j][hd * dh + d])
                                .sum::<f64>()
                                / (dh as f64).sqrt()
                        })
                        .collect();
                    let max = s.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for d in 0..dh {
                        ctx[i][hd * dh + d] = (0..n).map(|j| e[j] / z * v[j][hd * dh + d]).sum();
                    }
                }
            }
            for i in 0..n {
                let mut a = linear(&ctx[i], &g("ao.w"), &g("ao.b"), H, H);
                for d in 0..H {
                    a[d] += x[i][d];
                }
                ln(&mut a, &g("aln.w"), &g("aln.b"));
                let f: Vec<f64> = linear(&a, &g("fi.w"), &g("fi.b"), FFN, H)
                    .into_iter()
                    .map(|v| 0.5 * v * (1.0 + erf(v / 2f64.sqrt())))
                    .collect();
                let mut o = linear(&f, &g("fo.w"), &g("fo.b"), H, FFN);
                for d in 0..H {
                    o[d] += a[d];
                }
                ln(&mut o, &g("oln.w"), &g("oln.b"));
                x[i] = o;
            }
        }
        let mut pooled: Vec<f64> = (0..H)
            .map(|d| x.iter().map(|r| r[d]).sum::<f64>() / n as f64)
            .collect();
        let norm = pooled.iter().map(|v| v * v).sum::<f64>().sqrt();
        pooled.iter_mut().for_each(|v| *v /= norm);
        pooled.into_iter().map(|v| v as f32).collect()
    }
}

/// erf by its Taylor series (|x| ≤ 5) in f64.
fn erf(x: f64) -> f64 {
    if x.abs() > 5.0 {
        return x.signum();
    }
    let (mut sum, mut term, mut n) = (0f64, x, 0f64);
    while n < 300.0 {
        sum += term / (2.0 * n + 1.0);
        n += 1.0;
        term *= -x * x / n;
        if term.abs() < 1e-18 {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join("tiny.bin");
    std::fs::write(&p, bytes).unwrap();
    p
}

fn open(path: &Path, kernel: Kernel, threads: usize) -> E5Embedder {
    E5Embedder::open_with(
        path,
        E5Options {
            kernel,
            threads,
            ..Default::default()
        },
    )
    .unwrap()
}

const TEXTS: [&str; 5] = [
    "the cat sat on the mat.",
    "hello world",
    "fi\tthe ﬁ cat\u{200d}s Ａ",
    "zebra quartz? the hello",
    "",
];

#[test]
fn tiny_model_matches_the_reference_with_every_kernel() {
    let tiny = tiny_model(42);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &tiny.bytes);
    for (kernel, tol) in [
        (Kernel::Naive, 1e-4),
        (Kernel::F32, 1e-4),
        (Kernel::Int8, 0.0),
    ] {
        for threads in [1, 2] {
            let e = open(&path, kernel, threads);
            assert_eq!(e.dim(), H);
            let got = e.embed_passages(&TEXTS).unwrap();
            for (t, v) in TEXTS.iter().zip(&got) {
                let ids = e.tokenize(&format!("passage: {t}"));
                let want = tiny.reference(&ids);
                let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-4);
                if tol > 0.0 {
                    let diff = v
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        diff < tol,
                        "{kernel:?} {threads} threads {t:?}: max diff {diff}"
                    );
                } else {
                    let c = cosine(v, &want);
                    assert!(c > 0.995, "{kernel:?} {threads} threads {t:?}: cosine {c}");
                }
            }
        }
    }
}

#[test]
fn batches_give_the_same_vectors_as_single_texts() {
    let tiny = tiny_model(7);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &tiny.bytes);
    for kernel in [Kernel::F32, Kernel::Int8] {
        let e = E5Embedder::open_with(
            &path,
            E5Options {
                kernel,
                threads: 2,
                // Small forward passes: the batch is split and re-ordered.
                max_batch_tokens: 20,
                ..Default::default()
            },
        )
        .unwrap();
        let all = e.embed_passages(&TEXTS).unwrap();
        for (t, v) in TEXTS.iter().zip(&all) {
            let one = e.embed_passages(&[t]).unwrap().remove(0);
            let diff = v
                .iter()
                .zip(&one)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "{kernel:?} {t:?}: {diff}");
        }
    }
}

#[test]
fn prefixes_are_applied_and_long_texts_truncated() {
    let tiny = tiny_model(1);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &tiny.bytes);
    let e = open(&path, Kernel::F32, 1);
    let p = e.embed_passages(&["hello world"]).unwrap().remove(0);
    let q = e.embed_query("hello world").unwrap();
    let tp = e
        .embed_tokens(&[e.tokenize("passage: hello world")])
        .unwrap()
        .remove(0);
    let tq = e
        .embed_tokens(&[e.tokenize("query: hello world")])
        .unwrap()
        .remove(0);
    assert_eq!(p, tp);
    assert_eq!(q, tq);
    assert!(cosine(&p, &q) < 0.99999, "the prefix changes the vector");
    assert_eq!(
        e.tokenize("passage: hello")[..3],
        [0, 5, 7],
        "BOS ▁passage :"
    );
    // A text far over the 24 positions is cut to 22 pieces + BOS + EOS and still embeds.
    let long = "the cat sat on the mat. ".repeat(20);
    let ids = e.tokenize(&long);
    assert_eq!(ids.len(), MAXPOS);
    assert_eq!(*ids.last().unwrap(), 2);
    let v = e.embed_passages(&[&long]).unwrap().remove(0);
    assert!(
        (cosine(
            &v,
            &tiny.reference(&e.tokenize(&format!("passage: {long}")))
        ) - 1.0)
            .abs()
            < 1e-5
    );
    // Ids outside the vocabulary or over-long sequences are refused, not a panic.
    assert!(e
        .embed_tokens(&[vec![0, tiny.vocab as u32, 2]])
        .unwrap_err()
        .is_user_fault());
    assert!(e.embed_tokens(&[vec![0; MAXPOS + 1]]).is_err());
    assert!(e.embed_tokens(&[vec![]]).is_err());
    assert_eq!(e.embed_passages(&[]).unwrap().len(), 0);
}

#[test]
fn loader_rejects_bad_magic_truncation_and_bad_offsets() {
    let tiny = tiny_model(3);
    let dir = tempfile::tempdir().unwrap();
    let expect_err = |bytes: &[u8], needle: &str| {
        let path = write(dir.path(), bytes);
        let err = E5Embedder::open(&path).err().expect("must fail");
        assert!(matches!(err, Error::Embed(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    };
    let mut bad = tiny.bytes.clone();
    bad[..4].copy_from_slice(b"GGUF");
    expect_err(&bad, "not an E5S1");
    // Truncated anywhere: header, tokenizer, tensor table, tensor data.
    let len = tiny.bytes.len();
    for cut in [0, 3, 10, 40, 70, 200, 900, len / 2, len - 1] {
        let path = write(dir.path(), &tiny.bytes[..cut]);
        let err = E5Embedder::open(&path)
            .err()
            .expect("truncated file must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("truncated") || msg.contains("not an E5S1") || msg.contains("corrupt"),
            "cut {cut}: {msg}"
        );
    }
    // A tensor offset past the end of the file.
    let mut bad = tiny.bytes.clone();
    let at = tiny.entry_pos["l1.fo.w"] + 1 + 4;
    bad[at..at + 8].copy_from_slice(&(len as u64 - 10).to_le_bytes());
    expect_err(&bad, "past the end");
    // Huge counts in the header are refused before any allocation.
    let mut bad = tiny.bytes.clone();
    bad[8..12].copy_from_slice(&i32::MAX.to_le_bytes());
    expect_err(&bad, "hidden size");
    // An element count that does not match the shape.
    let mut bad = tiny.bytes.clone();
    let at = tiny.entry_pos["l0.q.b"] + 1;
    bad[at..at + 4].copy_from_slice(&(H as u32 + 1).to_le_bytes());
    expect_err(&bad, "l0.q.b");
    // A missing file.
    let err = E5Embedder::open(&dir.path().join("nope.bin"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("cannot read model file"), "{err}");
}

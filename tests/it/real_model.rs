//! The real multilingual-e5-small weights, when `LORE_E5_MODEL` points at `e5-small-q4.bin`
//! (skipped otherwise, so `cargo test` needs no download; the unit tests in
//! `src/embed/tiny_model_tests.rs` run the same loading code on a tiny synthetic model).

use lore::embed::{cosine, E5Embedder, E5Options, Embedder, Kernel};
use std::path::Path;

/// Real weights, when `LORE_E5_MODEL` points at `e5-small-q4.bin`: a sentence and its
/// translation are closer than an unrelated sentence, with every kernel.
#[test]
fn real_model_ranks_a_translation_above_an_unrelated_sentence() {
    let Some(path) = std::env::var_os("LORE_E5_MODEL") else {
        eprintln!("skipping: set LORE_E5_MODEL to the e5-small-q4.bin path");
        return;
    };
    let mut vecs = Vec::new();
    for kernel in [Kernel::F32, Kernel::Int8] {
        let opts = E5Options {
            kernel,
            threads: 2,
            ..Default::default()
        };
        let e = E5Embedder::open_with(Path::new(&path), opts).unwrap();
        let v = e
            .embed_passages(&[
                "El envío a España tarda de tres a cinco días laborables.",
                "Shipping to Spain takes three to five business days.",
                "The quarterly revenue grew by four percent.",
            ])
            .unwrap();
        assert!(
            cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.05,
            "{kernel:?}"
        );
        let q = e
            .embed_query("how long does delivery to Spain take?")
            .unwrap();
        assert!(cosine(&q, &v[1]) > cosine(&q, &v[2]));
        vecs.push(v);
    }
    for (a, b) in vecs[0].iter().zip(&vecs[1]) {
        assert!(cosine(a, b) > 0.99, "int8 vs f32");
    }
}

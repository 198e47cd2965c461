//! The SentencePiece unigram tokenizer of multilingual-e5-small (XLM-R's 250k pieces), read
//! from the model file.
//!
//! Encoding: map each code point through the normalization map, collapse runs of spaces, make
//! the text start with a space, turn spaces into `▁` (U+2581), then pick the segmentation into
//! pieces with the highest total score (Viterbi over code points). A character no piece covers
//! becomes UNK with a score below every piece. Finally `[BOS] ids [EOS]`, the ids truncated so
//! the whole fits the model's positions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over the piece bytes: the Viterbi search makes up to 16 lookups per character, and
/// SipHash's DoS resistance buys nothing for a table read from our own model file.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type PieceMap = HashMap<Box<str>, u32, BuildHasherDefault<Fnv>>;

/// The word-boundary marker SentencePiece puts in place of spaces.
const SPACE: char = '\u{2581}';

/// Special token ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

/// A unigram tokenizer.
#[derive(Debug)]
pub struct Tokenizer {
    /// Every piece → id (the first id of a repeated piece).
    lookup: PieceMap,
    scores: Vec<f32>,
    /// Longest piece, in code points: the Viterbi window.
    max_piece_chars: usize,
    norm: HashMap<char, Box<[char]>>,
    specials: Specials,
    unk_score: f32,
    /// Most ids between BOS and EOS.
    max_ids: usize,
}

impl Tokenizer {
    /// Builds a tokenizer. `pieces[i]` has id `i` and score `scores[i]`; `norm` maps code points
    /// to their replacements (possibly empty: the character is dropped); `max_positions` is
    /// the model's position count (ids are truncated to `max_positions - 2`).
    pub fn new(
        pieces: Vec<String>,
        scores: Vec<f32>,
        norm: HashMap<char, Box<[char]>>,
        specials: Specials,
        max_positions: usize,
    ) -> Tokenizer {
        let min_score = scores
            .iter()
            .copied()
            .filter(|s| s.is_finite())
            .fold(0f32, f32::min);
        let mut lookup = PieceMap::with_capacity_and_hasher(pieces.len(), Default::default());
        let mut max_piece_chars = 1;
        for (id, piece) in pieces.into_iter().enumerate() {
            // Every piece is matchable, control ones (`<s>`, `<mask>`, …) included: text that
            // spells them gets them, as in the reference engine and the HF tokenizer. Score 0
            // makes them win over any split.
            if piece.is_empty() {
                continue;
            }
            max_piece_chars = max_piece_chars.max(piece.chars().count());
            lookup.entry(piece.into_boxed_str()).or_insert(id as u32);
        }
        Tokenizer {
            lookup,
            scores,
            max_piece_chars,
            norm,
            specials,
            unk_score: min_score - 10.0,
            max_ids: max_positions.saturating_sub(2),
        }
    }

    pub fn specials(&self) -> Specials {
        self.specials
    }

    /// Number of pieces (ids are below this).
    pub fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// The normalized text the Viterbi search runs over: mapped, spaces collapsed, a leading
    /// space, spaces as `▁`.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 4);
        out.push(SPACE);
        let mut last_space = true;
        let mut push = |c: char, out: &mut String| {
            if c == ' ' {
                if !last_space {
                    out.push(SPACE);
                    last_space = true;
                }
            } else {
                out.push(c);
                last_space = false;
            }
        };
        for ch in text.chars() {
            match self.norm.get(&ch) {
                Some(rep) => {
                    for &c in rep.iter() {
                        push(c, &mut out);
                    }
                }
                None => push(ch, &mut out),
            }
        }
        out
    }

    /// The best segmentation of `text` into piece ids, without BOS/EOS and untruncated.
    pub fn pieces(&self, text: &str) -> Vec<u32> {
        let s = self.normalize(text);
        // Byte offset of every code point boundary.
        let bounds: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .collect();
        let n = bounds.len() - 1;
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        // (start position, id) of the last piece of the best path ending here.
        let mut back = vec![(0usize, 0u32); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            let base = best[i];
            if base == f32::NEG_INFINITY {
                continue;
            }
            let mut single = false;
            for len in 1..=self.max_piece_chars.min(n - i) {
                let piece = &s[bounds[i]..bounds[i + len]];
                if let Some(&id) = self.lookup.get(piece) {
                    let cand = base + self.scores[id as usize];
                    if cand > best[i + len] {
                        best[i + len] = cand;
                        back[i + len] = (i, id);
                    }
                    single |= len == 1;
                }
            }
            if !single {
                let cand = base + self.unk_score;
                if cand > best[i + 1] {
                    best[i + 1] = cand;
                    back[i + 1] = (i, self.specials.unk);
                }
            }
        }
        let mut ids = Vec::new();
        let mut pos = n;
        while pos > 0 {
            let (start, id) = back[pos];
            ids.push(id);
            pos = start;
        }
        ids.reverse();
        ids
    }

    /// `[BOS] pieces [EOS]`, with the pieces truncated to `min(max_positions, max_tokens) − 2`.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let mut ids = self.pieces(text);
        ids.truncate(self.max_ids.min(max_tokens.saturating_sub(2)));
        let mut out = Vec::with_capacity(ids.len() + 2);
        out.push(self.specials.bos);
        out.extend(ids);
        out.push(self.specials.eos);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn toy() -> Tokenizer {
        let pieces = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁", -3.0),
            ("a", -4.0),
            ("b", -4.0),
            ("ab", -5.0),
            ("▁ab", -6.0),
            ("▁a", -3.5),
            ("c", -4.0),
            ("abc", -20.0),
            ("▁fi", -2.0),
            ("x", -1.0),
            ("<mask>", 0.0),
        ];
        let mut norm = HashMap::new();
        norm.insert('\t', vec![' '].into_boxed_slice());
        norm.insert('ﬁ', vec!['f', 'i'].into_boxed_slice());
        norm.insert('\u{200d}', Vec::new().into_boxed_slice());
        Tokenizer::new(
            pieces.iter().map(|p| p.0.to_string()).collect(),
            pieces.iter().map(|p| p.1).collect(),
            norm,
            Specials {
                bos: 0,
                eos: 2,
                pad: 1,
                unk: 3,
            },
            8,
        )
    }

    #[test]
    fn viterbi_picks_the_best_total_score() {
        let t = toy();
        // "▁ab": one piece (-6) beats ▁a + b (-7.5) and ▁ + ab (-8).
        assert_eq!(t.pieces("ab"), vec![8]);
        // "▁abc": ▁ab + c (-10) beats ▁a + b + c (-11.5) and ▁ + abc (-23).
        assert_eq!(t.pieces("abc"), vec![8, 10]);
        // "▁a": -3.5 beats ▁ + a (-7).
        assert_eq!(t.pieces("a"), vec![9]);
    }

    #[test]
    fn normalization_map_and_spaces() {
        let t = toy();
        assert_eq!(t.normalize("a\t\t b"), "▁a▁b");
        assert_eq!(t.normalize("  a "), "▁a▁");
        assert_eq!(t.normalize("ﬁ"), "▁fi");
        assert_eq!(t.normalize("a\u{200d}b"), "▁ab");
        assert_eq!(t.pieces("ﬁ"), vec![12]);
        assert_eq!(t.pieces("a\u{200d}b"), vec![8]);
    }

    #[test]
    fn unknown_characters_become_unk_and_spelled_control_pieces_match() {
        let t = toy();
        // "▁a▁Z": ▁a, ▁, UNK
        assert_eq!(t.pieces("a Z"), vec![9, 4, 3]);
        // Two unknown characters are two UNKs.
        assert_eq!(t.pieces("ZZ"), vec![4, 3, 3]);
        // Pieces spelled in the text are found like any other piece (as the reference does).
        assert_eq!(t.pieces("a <mask>"), vec![9, 4, 14]);
        assert_eq!(t.pieces("<s>"), vec![4, 0]);
    }

    #[test]
    fn encode_adds_bos_eos_and_truncates_to_positions() {
        let t = toy();
        assert_eq!(t.encode("ab", 512), vec![0, 8, 2]);
        // max positions 8 → at most 6 ids between BOS and EOS.
        let ids = t.encode("x x x x x x x x x x", 512);
        assert_eq!(ids.len(), 8);
        assert_eq!(ids[0], 0);
        assert_eq!(*ids.last().unwrap(), 2);
        // A smaller caller limit wins.
        assert_eq!(t.encode("x x x x x x x x x x", 4).len(), 4);
        assert_eq!(t.encode("", 512), vec![0, 4, 2]);
    }
}

//! Chunk: cut a parsed [`Document`] into passages — the unit of retrieval and of citation.
//!
//! The chunker is structure-aware:
//! * a chunk never spans two sections, so every chunk has exactly one heading path;
//! * blocks (paragraphs, list items, table rows) are packed whole while they fit;
//! * a block longer than a chunk is split between sentences, a sentence longer than a chunk
//!   between words, and only a single enormous "word" is cut mid-way;
//! * when a section continues into a new chunk, the last whole sentences of the previous chunk
//!   (up to `overlap_chars`) are repeated, so an answer cut in two keeps its context.

use crate::config::ChunkConfig;
use crate::parse::{Block, BlockKind, Document, Location};
use unicode_segmentation::UnicodeSegmentation;

/// One passage of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the version, from 0.
    pub ord: u32,
    pub heading_path: Vec<String>,
    pub text: String,
    pub location: Location,
}

/// Cuts `doc` into chunks of at most `cfg.max_chars` characters.
pub fn chunk(doc: &Document, cfg: &ChunkConfig) -> Vec<Chunk> {
    let max = cfg.max_chars.max(1);
    let mut out: Vec<Chunk> = Vec::new();
    let mut start = 0;
    while start < doc.blocks.len() {
        let path = &doc.blocks[start].heading_path;
        let end = doc.blocks[start..]
            .iter()
            .position(|b| &b.heading_path != path)
            .map_or(doc.blocks.len(), |n| start + n);
        chunk_section(&doc.blocks[start..end], max, cfg.overlap_chars, &mut out);
        start = end;
    }
    for (i, c) in out.iter_mut().enumerate() {
        c.ord = i as u32;
    }
    out
}

/// Packs the blocks of one section (all with the same heading path).
fn chunk_section(blocks: &[Block], max: usize, overlap: usize, out: &mut Vec<Chunk>) {
    let path = blocks[0].heading_path.clone();
    let mut acc = Acc::new(path, max, overlap);
    for block in blocks {
        if char_len(&block.text) <= max {
            acc.push(&block.text, block.kind, &block.location, false, out);
        } else {
            // An over-long block goes in sentence by sentence, so the packing (and the
            // overlap) works at sentence granularity inside it.
            for (i, unit) in sentence_units(&block.text, max).iter().enumerate() {
                acc.push(unit, block.kind, &block.location, i > 0, out);
            }
        }
    }
    acc.flush(out);
}

/// The chunk being filled.
struct Acc {
    path: Vec<String>,
    max: usize,
    overlap: usize,
    text: String,
    len: usize,
    /// Length of the overlap prefix: a chunk that holds only overlap is not emitted.
    carried: usize,
    last_kind: Option<BlockKind>,
    location: Option<Location>,
    /// Where the last piece came from: the overlap carried into the next chunk is the end of
    /// this one, so this is its location.
    last_location: Option<Location>,
}

impl Acc {
    fn new(path: Vec<String>, max: usize, overlap: usize) -> Self {
        Acc {
            path,
            max,
            overlap,
            text: String::new(),
            len: 0,
            carried: 0,
            last_kind: None,
            location: None,
            last_location: None,
        }
    }

    /// Appends `piece`. `continues` says it is the next sentence of the same block, which
    /// joins with a space rather than a block separator.
    fn push(
        &mut self,
        piece: &str,
        kind: BlockKind,
        loc: &Location,
        continues: bool,
        out: &mut Vec<Chunk>,
    ) {
        let piece = piece.trim();
        if piece.is_empty() {
            return;
        }
        let piece_len = char_len(piece);
        let sep = |acc: &Acc| -> &'static str {
            if acc.len == 0 {
                ""
            } else if continues {
                " "
            } else {
                separator(acc.last_kind, kind)
            }
        };
        if self.len > 0 && self.len + sep(self).len() + piece_len > self.max {
            self.flush(out);
            // Keep the overlap only if the new piece still fits after it.
            if self.len + 2 + piece_len > self.max {
                self.reset();
            }
        }
        let s = sep(self);
        self.text.push_str(s);
        self.len += s.len();
        self.text.push_str(piece);
        self.len += piece_len;
        self.last_kind = Some(kind);
        match &mut self.location {
            Some(l) => l.extend(loc),
            None => self.location = Some(loc.clone()),
        }
        self.last_location = Some(loc.clone());
    }

    /// Emits the current chunk (unless it holds only carried-over overlap) and starts the next
    /// one with the overlap.
    fn flush(&mut self, out: &mut Vec<Chunk>) {
        if self.len <= self.carried {
            return;
        }
        let text = std::mem::take(&mut self.text);
        let tail = tail_sentences(&text, self.overlap);
        let location = self.location.take().unwrap_or_default();
        out.push(Chunk {
            ord: 0,
            heading_path: self.path.clone(),
            text,
            location: location.clone(),
        });
        self.len = char_len(&tail);
        self.carried = self.len;
        self.text = tail;
        if self.len > 0 {
            // The overlap is the end of the chunk just emitted: the location of its last
            // piece. (The whole chunk's location here made every later chunk of a long
            // section start at the section's first page: "pp. 5-16" for a one-page chunk.)
            self.location = self.last_location.clone().or(Some(location));
            // `last_kind` stays: the overlap ends with the last piece, so a table row or list
            // item after it joins by a line, as inside a chunk.
        } else {
            self.last_kind = None;
        }
    }

    fn reset(&mut self) {
        self.text.clear();
        self.len = 0;
        self.carried = 0;
        self.last_kind = None;
        self.location = None;
        self.last_location = None;
    }
}

/// List items and table rows read best one per line; anything else is a new paragraph.
fn separator(prev: Option<BlockKind>, next: BlockKind) -> &'static str {
    use BlockKind::*;
    match (prev, next) {
        (Some(ListItem), ListItem) | (Some(TableRow), TableRow) => "\n",
        _ => "\n\n",
    }
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The longest run of whole sentences at the end of `text` that fits in `budget` characters.
fn tail_sentences(text: &str, budget: usize) -> String {
    if budget == 0 {
        return String::new();
    }
    let sentences: Vec<&str> = text.split_sentence_bounds().collect();
    let mut take = 0;
    let mut len = 0;
    for s in sentences.iter().rev() {
        let l = char_len(s);
        if len + l > budget {
            break;
        }
        len += l;
        take += 1;
    }
    if take == sentences.len() {
        // The whole chunk would be repeated: that is duplication, not overlap.
        return String::new();
    }
    sentences[sentences.len() - take..]
        .concat()
        .trim()
        .to_string()
}

/// The sentences of an over-long block; a sentence longer than `max` is further split
/// between words.
fn sentence_units(text: &str, max: usize) -> Vec<String> {
    let mut units = Vec::new();
    for sentence in text.split_sentence_bounds() {
        if char_len(sentence) <= max {
            units.push(sentence.to_string());
        } else {
            units.extend(split_words(sentence, max));
        }
    }
    units
}

/// Splits at whitespace into runs of at most `max` characters; words longer than `max` are cut
/// at character boundaries.
fn split_words(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for word in text.split_word_bounds() {
        let l = char_len(word);
        if l > max {
            if cur_len > 0 {
                out.push(std::mem::take(&mut cur));
                cur_len = 0;
            }
            let chars: Vec<char> = word.chars().collect();
            for part in chars.chunks(max) {
                out.push(part.iter().collect());
            }
            continue;
        }
        if cur_len + l > max {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        cur.push_str(word);
        cur_len += l;
    }
    if cur_len > 0 {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(path: &[&str], text: &str, kind: BlockKind, line: u32) -> Block {
        Block {
            heading_path: path.iter().map(|s| s.to_string()).collect(),
            text: text.to_string(),
            kind,
            location: Location::lines(line, line),
        }
    }

    fn cfg(max: usize, overlap: usize) -> ChunkConfig {
        ChunkConfig {
            max_chars: max,
            overlap_chars: overlap,
        }
    }

    #[test]
    fn sections_never_share_a_chunk_and_keep_their_heading_path() {
        let doc = Document {
            blocks: vec![
                block(&["Returns"], "You have 30 days.", BlockKind::Paragraph, 3),
                block(
                    &["Returns"],
                    "Refunds take 5 days.",
                    BlockKind::Paragraph,
                    5,
                ),
                block(&["Shipping"], "We ship to Chile.", BlockKind::Paragraph, 9),
            ],
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(1000, 100));
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].heading_path, vec!["Returns"]);
        assert_eq!(chunks[0].text, "You have 30 days.\n\nRefunds take 5 days.");
        assert_eq!(chunks[0].location, Location::lines(3, 5));
        assert_eq!(chunks[1].heading_path, vec!["Shipping"]);
        assert_eq!(chunks[1].ord, 1);
    }

    #[test]
    fn long_text_splits_between_sentences_with_overlap() {
        let sentences: Vec<String> = (0..40)
            .map(|i| format!("Sentence number {i} talks about coffee."))
            .collect();
        let doc = Document {
            blocks: vec![block(&[], &sentences.join(" "), BlockKind::Paragraph, 1)],
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(300, 80));
        assert!(chunks.len() > 4, "{}", chunks.len());
        for c in &chunks {
            assert!(c.text.chars().count() <= 300, "{}", c.text.len());
            assert!(
                c.text.ends_with('.'),
                "split inside a sentence: {:?}",
                c.text
            );
            assert!(c.text.starts_with("Sentence"), "{:?}", c.text);
        }
        // Each chunk after the first starts with whole sentences that end the one before,
        // at most `overlap_chars` of them.
        for pair in chunks.windows(2) {
            let first = pair[1].text.split_sentence_bounds().next().unwrap();
            let at = pair[0].text.rfind(first.trim()).expect("overlap");
            let repeated = &pair[0].text[at..];
            assert!(pair[1].text.starts_with(repeated), "{:?}", pair[1].text);
            assert!(repeated.chars().count() <= 80, "{repeated:?}");
        }
        // Nothing is lost: every sentence appears somewhere.
        let all: String = chunks.iter().map(|c| c.text.as_str()).collect();
        for s in &sentences {
            assert!(all.contains(s.as_str()), "lost {s}");
        }
    }

    #[test]
    fn a_long_section_over_many_pages_cites_the_pages_of_each_chunk() {
        // One section, one paragraph of 3 sentences per page, 12 pages; chunks of ~2 pages.
        let blocks: Vec<Block> = (1..=12)
            .map(|p| Block {
                location: Location {
                    page_start: Some(p),
                    page_end: Some(p),
                    ..Default::default()
                },
                ..block(
                    &["Manual"],
                    &format!("Page {p} says one thing. It says a second. And a third thing."),
                    BlockKind::Paragraph,
                    1,
                )
            })
            .collect();
        let doc = Document {
            blocks,
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(130, 40));
        assert!(chunks.len() >= 6, "{}", chunks.len());
        for c in &chunks {
            let (a, b) = (c.location.page_start.unwrap(), c.location.page_end.unwrap());
            assert!(b - a <= 1, "one chunk spans pages {a}-{b}: {:?}", c.text);
            // The pages cited are pages whose text the chunk holds.
            assert!(
                c.text.contains(&format!("Page {b} ")),
                "{a}-{b}: {:?}",
                c.text
            );
        }
        assert_eq!(chunks.last().unwrap().location.page_end, Some(12));
    }

    #[test]
    fn zero_overlap_repeats_nothing() {
        let text = (0..20)
            .map(|i| format!("Line {i} is here."))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = Document {
            blocks: vec![block(&[], &text, BlockKind::Paragraph, 1)],
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(100, 0));
        let total: usize = chunks.iter().map(|c| c.text.matches("Line").count()).sum();
        assert_eq!(total, 20);
    }

    #[test]
    fn a_giant_word_is_cut_and_nothing_is_lost() {
        let word = "x".repeat(2500);
        let doc = Document {
            blocks: vec![block(&[], &word, BlockKind::Paragraph, 1)],
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(1000, 100));
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.iter().map(|c| c.text.len()).sum::<usize>(), 2500);
    }

    #[test]
    fn rows_after_a_carried_over_row_join_by_line() {
        let rows = [
            "Chile: 7 to 12 days",
            "Brasil: 10 to 15 days",
            "Peru: 8 to 14 days",
        ];
        let doc = Document {
            blocks: rows
                .iter()
                .enumerate()
                .map(|(i, r)| block(&["Envíos"], r, BlockKind::TableRow, i as u32 + 1))
                .collect(),
            ..Default::default()
        };
        let texts: Vec<String> = chunk(&doc, &cfg(45, 25))
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(
            texts,
            vec![
                "Chile: 7 to 12 days\nBrasil: 10 to 15 days",
                "Brasil: 10 to 15 days\nPeru: 8 to 14 days"
            ]
        );
    }

    #[test]
    fn list_items_and_rows_join_by_line_and_multibyte_text_counts_chars() {
        let doc = Document {
            blocks: vec![
                block(&["Envíos"], "Chile: 7–12 días", BlockKind::TableRow, 1),
                block(&["Envíos"], "Brasil: 10–15 días", BlockKind::TableRow, 2),
                block(
                    &["Envíos"],
                    "¿Preguntas? Escríbenos.",
                    BlockKind::Paragraph,
                    4,
                ),
            ],
            ..Default::default()
        };
        let chunks = chunk(&doc, &cfg(1000, 100));
        assert_eq!(
            chunks[0].text,
            "Chile: 7–12 días\nBrasil: 10–15 días\n\n¿Preguntas? Escríbenos."
        );
        let small = chunk(&doc, &cfg(20, 0));
        assert!(small.iter().all(|c| c.text.chars().count() <= 20));
        let texts: Vec<&str> = small.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Chile: 7–12 días",
                "Brasil: 10–15 días",
                "¿Preguntas?",
                "Escríbenos."
            ]
        );
    }

    #[test]
    fn empty_document_gives_no_chunks() {
        assert!(chunk(&Document::default(), &cfg(1000, 100)).is_empty());
    }
}

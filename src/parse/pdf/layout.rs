//! From positioned glyphs to paragraphs.
//!
//! Glyphs arrive in content-stream order with their start and end points in device space.
//! Comparing each glyph with the previous one decides what separates them: nothing (the next
//! letter of a word), a space (a gap along the baseline), a line break (a step across it) or a
//! block break (a step larger than the line spacing, or back up the page, as at a new
//! column). Lines of a block are joined with spaces, and a word hyphenated at a line end is
//! joined back.

use crate::parse::normalize_ws;

/// A gap along the baseline wider than this fraction of the font size is a word space.
/// Kerning inside words stays well below it (rarely 0.1 em); the narrowest word spaces of
/// justified text are above it (about 0.2 em).
const SPACE_GAP: f32 = 0.15;
/// Moving back along the baseline by more than this many font sizes starts a new word too
/// (text drawn out of order, table cells).
const BACK_GAP: f32 = 1.0;
/// A step across the baseline larger than this fraction of the font size is a new line;
/// superscripts and subscripts stay below it.
const LINE_SHIFT: f32 = 0.6;
/// A line that drops more than this many font sizes below the previous one starts a block.
const PARA_GAP: f32 = 1.75;
/// …or one that drops this much more than the block's previous line did.
const PARA_RATIO: f32 = 1.3;
/// A line whose font size differs from the previous line's by more than this factor starts
/// a block too (a heading and the text under it).
const SIZE_CHANGE: f32 = 1.2;

/// Where a glyph sits: its origin, where the pen is after it, and its size (all in device
/// space).
#[derive(Debug, Clone, Copy)]
pub struct GlyphBox {
    pub start: (f32, f32),
    pub end: (f32, f32),
    /// Unit vector of the writing direction.
    pub dir: (f32, f32),
    pub size: f32,
    /// Set in a bold face.
    pub bold: bool,
}

#[derive(Debug, Clone, Copy)]
struct Prev {
    end: (f32, f32),
    dir: (f32, f32),
    size: f32,
}

/// One block of a page and the font size most of its characters are set in (the headings
/// pass compares it with the body text's size).
#[derive(Debug, Clone, PartialEq)]
pub struct TextBlock {
    pub text: String,
    /// Characters' mean font size in device space (0 when unknown).
    pub size: f32,
    /// Nearly all its characters (90%) are bold.
    pub bold: bool,
}

#[derive(Default)]
pub struct Layout {
    blocks: Vec<TextBlock>,
    /// Font size × characters, and characters, of the current block.
    cur_size_sum: f32,
    cur_chars: usize,
    cur_bold_chars: usize,
    /// The current block, its lines separated by `\n`.
    cur: String,
    prev: Option<Prev>,
    last_drop: Option<f32>,
    /// Font size at the start of the current line.
    line_size: f32,
    /// A space is due before the next glyph (a wide `TJ` adjustment said so).
    space_due: bool,
    /// Non-whitespace characters emitted so far.
    pub chars: usize,
    /// The page's visible area `[x0 y0 x1 y1]`: glyphs starting outside it are not text.
    pub clip: Option<[f32; 4]>,
}

/// Glyphs this close outside the page box still count (rounding, glyphs on the edge).
const CLIP_MARGIN: f32 = 2.0;

impl Layout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a word break before the next glyph (a large negative `TJ` adjustment).
    pub fn word_break(&mut self) {
        self.space_due = true;
    }

    /// Adds one glyph with its text (which may be empty when the font cannot tell).
    pub fn glyph(&mut self, text: &str, g: GlyphBox) {
        let text = match self.clip {
            Some([x0, y0, x1, y1])
                if g.start.0 < x0 - CLIP_MARGIN
                    || g.start.0 > x1 + CLIP_MARGIN
                    || g.start.1 < y0 - CLIP_MARGIN
                    || g.start.1 > y1 + CLIP_MARGIN =>
            {
                ""
            }
            _ => text,
        };
        let dir = g.dir;
        if let Some(p) = self.prev {
            let (dx, dy) = (g.start.0 - p.end.0, g.start.1 - p.end.1);
            let along = dx * p.dir.0 + dy * p.dir.1;
            let across = p.dir.0 * dy - p.dir.1 * dx;
            let s = p.size.max(g.size).max(1e-3);
            let turned = dir.0 * p.dir.0 + dir.1 * p.dir.1 < 0.8;
            if across.abs() > LINE_SHIFT * s || turned {
                let drop = -across;
                if drop > 0.0 && !turned {
                    let resized = g.size > self.line_size * SIZE_CHANGE
                        || g.size * SIZE_CHANGE < self.line_size;
                    let para = drop > PARA_GAP * s
                        || resized
                        || self
                            .last_drop
                            .is_some_and(|ld| drop > ld * PARA_RATIO + 0.1 * s);
                    if para {
                        self.end_block();
                    } else {
                        self.cur.push('\n');
                        self.last_drop = Some(drop);
                    }
                } else {
                    self.end_block();
                }
                self.line_size = g.size;
            } else if self.space_due || along > SPACE_GAP * s || along < -BACK_GAP * s {
                self.cur.push(' ');
            }
        }
        if self.prev.is_none() {
            self.line_size = g.size;
        }
        self.space_due = false;
        let before = self.chars;
        self.push_text(text);
        let added = self.chars - before;
        self.cur_chars += added;
        self.cur_size_sum += g.size * added as f32;
        if g.bold {
            self.cur_bold_chars += added;
        }
        self.prev = Some(Prev {
            end: g.end,
            dir,
            size: g.size,
        });
    }

    fn push_text(&mut self, text: &str) {
        for c in text.chars() {
            let expanded = match c {
                '\u{FB00}' => "ff",
                '\u{FB01}' => "fi",
                '\u{FB02}' => "fl",
                '\u{FB03}' => "ffi",
                '\u{FB04}' => "ffl",
                '\u{FB05}' | '\u{FB06}' => "st",
                '\u{00AD}' => "-",
                c if c.is_whitespace() => {
                    if !self.cur.ends_with([' ', '\n']) {
                        self.cur.push(' ');
                    }
                    continue;
                }
                c if c.is_control() => continue,
                c => {
                    self.cur.push(c);
                    self.chars += 1;
                    continue;
                }
            };
            self.cur.push_str(expanded);
            self.chars += expanded.len();
        }
    }

    /// Closes the current block (if it has text).
    pub fn end_block(&mut self) {
        self.last_drop = None;
        let size = if self.cur_chars > 0 {
            self.cur_size_sum / self.cur_chars as f32
        } else {
            0.0
        };
        let bold = self.cur_chars > 0 && self.cur_bold_chars * 10 >= self.cur_chars * 9;
        self.cur_chars = 0;
        self.cur_bold_chars = 0;
        self.cur_size_sum = 0.0;
        if self.cur.trim().is_empty() {
            self.cur.clear();
            return;
        }
        let text = join_lines(&self.cur);
        self.cur.clear();
        if !text.is_empty() {
            self.blocks.push(TextBlock { text, size, bold });
        }
    }

    /// The blocks of the page, in order.
    pub fn finish(mut self) -> Vec<TextBlock> {
        self.end_block();
        self.blocks
    }
}

/// Joins the lines of a block with spaces, re-joining words hyphenated at a line end: a line
/// ending in letter + `-` followed by a line starting in lower case loses the hyphen.
fn join_lines(block: &str) -> String {
    let mut out = String::with_capacity(block.len());
    for line in block.split('\n') {
        let line = visual_to_logical(line.trim());
        let line = line.as_ref();
        if line.is_empty() {
            continue;
        }
        let hyphenated = out
            .strip_suffix('-')
            .and_then(|head| head.chars().next_back())
            .is_some_and(char::is_alphabetic);
        let next_lower = line.chars().next().is_some_and(char::is_lowercase);
        if hyphenated && next_lower {
            out.pop();
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    normalize_ws(&out)
}

/// Right-to-left scripts: Hebrew, Arabic, Syriac, Thaana, NKo and their presentation forms.
fn is_rtl(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// Content streams draw right-to-left text in visual order, left to right, so its words come
/// out reversed letter by letter and in reverse order. Every run of right-to-left words in a
/// line is turned back into reading order (numbers inside keep their digit order).
fn visual_to_logical(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.chars().any(is_rtl) {
        return std::borrow::Cow::Borrowed(line);
    }
    let is_rtl_word =
        |w: &str| w.chars().any(is_rtl) && !w.chars().any(|c| c.is_alphabetic() && !is_rtl(c));
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if !is_rtl_word(words[i]) {
            out.push(words[i].to_owned());
            i += 1;
            continue;
        }
        let start = i;
        while i < words.len() && is_rtl_word(words[i]) {
            i += 1;
        }
        for w in words[start..i].iter().rev() {
            out.push(reverse_keeping_digits(w));
        }
    }
    std::borrow::Cow::Owned(out.join(" "))
}

fn reverse_keeping_digits(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut end = chars.len();
    while end > 0 {
        if chars[end - 1].is_numeric() {
            let mut start = end - 1;
            while start > 0 && chars[start - 1].is_numeric() {
                start -= 1;
            }
            out.extend(&chars[start..end]);
            end = start;
        } else {
            out.push(chars[end - 1]);
            end -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out words as glyph runs: each `(text, x, y)` is one glyph 5 units wide per char.
    fn lay(words: &[(&str, f32, f32)]) -> Vec<String> {
        lay_sized(
            &words
                .iter()
                .map(|&(w, x, y)| (w, x, y, 10.0))
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .map(|b| b.text)
        .collect()
    }

    /// Like [`lay`] with a font size per word; glyphs are half the size wide.
    fn lay_sized(words: &[(&str, f32, f32, f32)]) -> Vec<TextBlock> {
        let mut l = Layout::new();
        for &(w, x, y, size) in words {
            let mut x = x;
            for c in w.chars() {
                let mut b = [0u8; 4];
                l.glyph(
                    c.encode_utf8(&mut b),
                    GlyphBox {
                        start: (x, y),
                        end: (x + size / 2.0, y),
                        dir: (1.0, 0.0),
                        size,
                        bold: false,
                    },
                );
                x += size / 2.0;
            }
        }
        l.finish()
    }

    #[test]
    fn gaps_become_spaces_lines_and_blocks() {
        let blocks = lay(&[
            ("Hello", 0.0, 700.0),
            ("world", 28.0, 700.0),
            ("next", 0.0, 688.0),
            ("line", 23.0, 688.0),
            ("New", 0.0, 660.0),
            ("para", 20.0, 660.0),
        ]);
        assert_eq!(blocks, vec!["Hello world next line", "New para"]);
    }

    #[test]
    fn hyphenated_line_ends_are_joined() {
        assert_eq!(
            join_lines("the infor-\nmation is\nwell-\nKnown ﬁ"),
            "the information is well- Known ﬁ"
        );
        assert_eq!(join_lines("x -\nword"), "x - word");
        let blocks = lay(&[("infor-", 0.0, 700.0), ("mation", 0.0, 688.0)]);
        assert_eq!(blocks, vec!["information"]);
    }

    #[test]
    fn right_to_left_runs_are_put_in_reading_order() {
        // Drawn left to right: "مرحبا بالعالم" comes out as its mirror image.
        assert_eq!(join_lines("PDF ملاعلاب ابحرم 2024"), "PDF مرحبا بالعالم 2024");
        assert_eq!(reverse_keeping_digits("ج12ب"), "ب12ج");
    }

    #[test]
    fn ligatures_expand_and_moving_up_starts_a_block() {
        let blocks = lay(&[("\u{FB01}ne", 0.0, 100.0), ("top", 300.0, 700.0)]);
        assert_eq!(blocks, vec!["fine", "top"]);
    }

    #[test]
    fn a_block_carries_the_size_of_its_characters() {
        let blocks = lay_sized(&[
            ("Descaling", 0.0, 700.0, 16.0),
            ("Use", 0.0, 676.0, 10.0),
            ("citric", 20.0, 676.0, 10.0),
            ("acid", 0.0, 664.0, 10.0),
        ]);
        let got: Vec<(&str, f32)> = blocks.iter().map(|b| (b.text.as_str(), b.size)).collect();
        assert_eq!(got, vec![("Descaling", 16.0), ("Use citric acid", 10.0)]);
    }
}

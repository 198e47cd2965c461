//! Headings of a PDF, told by font size.
//!
//! A PDF has no paragraph styles, only glyphs at sizes. Most documents people upload (policies,
//! guides, manuals exported from a word processor) set their body text in one size and their
//! headings larger, so: the body size is the size most characters are set in, and a short
//! block set clearly larger is a heading. Distinct heading sizes, largest first, are levels
//! 1, 2, 3…; each block then carries the headings above it as its heading path, exactly like
//! a Markdown or DOCX section, so chunks keep to sections and citations say "Descaling, p. 3".
//!
//! Conservative on purpose: a slide deck or a poster (where "larger than the body" is most of
//! the text) gets no headings rather than wrong ones.

use super::layout::TextBlock;

/// A block at least this many times the body size can be a heading. Body text, captions and
/// footnotes stay below (captions and notes are smaller); word processors' heading styles
/// start at about 1.15× (11 pt body, 13 pt heading 3).
const HEADING_RATIO: f32 = 1.12;
/// A heading is short: at most this many characters…
const MAX_HEADING_CHARS: usize = 150;
/// …and words.
const MAX_HEADING_WORDS: usize = 20;
/// If more than this share of the blocks would be headings, the document has no body size
/// to speak of (slides, a form, a poster) and gets none.
const MAX_HEADING_SHARE: f32 = 0.4;
/// Heading sizes within this factor of each other are one level (rounding, small caps).
const SAME_LEVEL: f32 = 1.04;
/// Levels beyond this are folded into it: deeper outlines are rare and the path stays short.
const MAX_LEVEL: usize = 4;

/// The heading level (1 = largest) of each block, or `None` for body text.
pub fn levels(blocks: &[&TextBlock]) -> Vec<Option<u8>> {
    let none = vec![None; blocks.len()];
    let Some(body) = body_size(blocks) else {
        return none;
    };
    // Bold text at the body size is a heading too (word processors' lower heading levels),
    // unless the body itself is mostly bold.
    let bold_body = bold_share_at(blocks, body) > 0.5;
    let bold_heading = |b: &TextBlock| {
        !bold_body
            && b.bold
            && b.size >= body / HEADING_RATIO
            && b.size < body * HEADING_RATIO
            && !b.text.trim_end().ends_with(':')
    };
    let candidate: Vec<bool> = blocks
        .iter()
        .map(|b| (b.size >= body * HEADING_RATIO || bold_heading(b)) && heading_shaped(&b.text))
        .collect();
    let count = candidate.iter().filter(|c| **c).count();
    if count == 0 || count as f32 > MAX_HEADING_SHARE * blocks.len() as f32 {
        return none;
    }
    // Distinct heading sizes, largest first, merged when nearly equal.
    let mut sizes: Vec<f32> = blocks
        .iter()
        .zip(&candidate)
        .filter(|(b, c)| **c && b.size >= body * HEADING_RATIO)
        .map(|(b, _)| b.size)
        .collect();
    sizes.sort_by(|a, b| b.total_cmp(a));
    let mut tiers: Vec<f32> = Vec::new();
    for s in sizes {
        if tiers.last().is_none_or(|t| s * SAME_LEVEL < *t) {
            tiers.push(s);
        }
    }
    blocks
        .iter()
        .zip(&candidate)
        .map(|(b, c)| {
            c.then(|| {
                // The tier this size belongs to: the first (largest) it is not below; bold
                // headings at the body size come after every larger tier.
                let tier = if b.size >= body * HEADING_RATIO {
                    tiers
                        .iter()
                        .position(|t| b.size * SAME_LEVEL >= *t)
                        .unwrap_or(0)
                } else {
                    tiers.len()
                };
                (tier.min(MAX_LEVEL - 1) + 1) as u8
            })
        })
        .collect()
}

/// The size most characters are set in (sizes bucketed to half a unit), if any text has one.
fn body_size(blocks: &[&TextBlock]) -> Option<f32> {
    let mut chars_by_size: std::collections::BTreeMap<i64, (usize, f32)> = Default::default();
    for b in blocks.iter().filter(|b| b.size > 0.0) {
        let n = b.text.chars().filter(|c| !c.is_whitespace()).count();
        let e = chars_by_size
            .entry((b.size * 2.0).round() as i64)
            .or_default();
        e.0 += n;
        e.1 = b.size;
    }
    chars_by_size
        .values()
        .max_by_key(|(n, _)| *n)
        .map(|(_, size)| *size)
}

/// The share of the characters set near `size` that are bold.
fn bold_share_at(blocks: &[&TextBlock], size: f32) -> f32 {
    let (mut bold, mut all) = (0usize, 0usize);
    for b in blocks
        .iter()
        .filter(|b| b.size >= size / SAME_LEVEL && b.size <= size * SAME_LEVEL)
    {
        let n = b.text.chars().filter(|c| !c.is_whitespace()).count();
        all += n;
        if b.bold {
            bold += n;
        }
    }
    if all == 0 {
        0.0
    } else {
        bold as f32 / all as f32
    }
}

/// Short, has letters, and does not end like a sentence or a list entry.
fn heading_shaped(text: &str) -> bool {
    let text = text.trim();
    text.chars().count() <= MAX_HEADING_CHARS
        && text.split_whitespace().count() <= MAX_HEADING_WORDS
        // Two letters at least: a lone "i" or "A" is a page number or a label.
        && text.chars().filter(|c| c.is_alphabetic()).nth(1).is_some()
        && !text.ends_with(['.', ',', ';'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str, size: f32) -> TextBlock {
        TextBlock {
            text: text.into(),
            size,
            bold: false,
        }
    }

    fn bold(text: &str, size: f32) -> TextBlock {
        TextBlock {
            bold: true,
            ..b(text, size)
        }
    }

    #[test]
    fn bold_lines_at_the_body_size_are_the_lowest_level() {
        let got = run(&[
            b("Returns", 14.0),
            b(BODY, 10.0),
            bold("Refunds", 10.0),
            b(BODY, 10.0),
            b(BODY, 10.0),
            bold("Note:", 10.0),
            b(BODY, 10.0),
            bold("Refunds reach your card within five days.", 10.0),
            b(BODY, 10.0),
        ]);
        let (h1, h2) = (Some(1), Some(2));
        assert_eq!(got, vec![h1, None, h2, None, None, None, None, None, None]);
        // A document set in bold throughout has no bold headings.
        let all_bold = run(&[bold("Refunds", 10.0), bold(BODY, 10.0), bold(BODY, 10.0)]);
        assert_eq!(all_bold, vec![None; 3]);
    }

    fn run(blocks: &[TextBlock]) -> Vec<Option<u8>> {
        levels(&blocks.iter().collect::<Vec<_>>())
    }

    const BODY: &str =
        "Rinse the paper filter with hot water before brewing, then discard the water.";

    #[test]
    fn larger_short_blocks_are_headings_by_size_tier() {
        let got = run(&[
            b("Brewing Guide", 20.0),
            b("Pour-over", 14.0),
            b(BODY, 10.0),
            b(BODY, 10.0),
            b("Grind size", 12.0),
            b(BODY, 10.0),
            b(BODY, 10.0),
            b("Espresso", 14.2),
            b(BODY, 10.0),
            b(BODY, 10.0),
            b("Page 2", 8.0),
        ]);
        let (h1, h2, h3) = (Some(1), Some(2), Some(3));
        assert_eq!(
            got,
            vec![h1, h2, None, None, h3, None, None, h2, None, None, None]
        );
    }

    #[test]
    fn large_sentences_and_numbers_are_not_headings() {
        let got = run(&[
            b("Prices include tax.", 14.0),
            b("2026", 14.0),
            b("i", 14.0),
            b("Returns", 14.0),
            b(BODY, 10.0),
            b(BODY, 10.0),
            b(BODY, 10.0),
        ]);
        assert_eq!(got, vec![None, None, None, Some(1), None, None, None]);
    }

    #[test]
    fn slides_where_most_text_is_large_get_no_headings() {
        let got = run(&[
            b("Our beans", 28.0),
            b("Single origin", 28.0),
            b("Roasted weekly", 28.0),
            b("Shipped fresh to your door every week of the year", 12.0),
        ]);
        assert_eq!(got, vec![None; 4]);
        assert_eq!(run(&[b(BODY, 10.0), b(BODY, 10.0)]), vec![None, None]);
        assert!(run(&[]).is_empty());
    }
}

//! The document outline ("bookmarks"): the author's own list of sections, each with the page it
//! starts on.
//!
//! Font sizes only suggest which lines are headings; where a document has bookmarks (most
//! manuals and everything LaTeX or a word processor exports with them), the bookmarks say it,
//! with the nesting. `headings_from` finds each bookmark's heading among the blocks of its page;
//! when most of them are found, those levels replace the guess from font sizes.
//!
//! Read by hand rather than with lopdf's `get_toc`: its walk follows `/Next` links without
//! remembering where it has been, so a crafted file whose outline loops would never finish.
//! Here every dictionary is visited once, and the entry count and depth are bounded.

use super::encoding::decode_text_string;
use super::font::deref;
use super::layout::TextBlock;
use lopdf::{Dictionary, Document as PdfDoc, Object, ObjectId};
use std::collections::{HashMap, HashSet};

/// Most outline entries read (the largest real outline in the test corpus has 1,426).
const MAX_ENTRIES: usize = 20_000;
/// Deepest outline nesting followed.
const MAX_DEPTH: usize = 32;
/// Most name-tree nodes read while looking for named destinations.
const MAX_NAME_NODES: usize = 100_000;
/// Deepest heading level given to a block (as for font-size headings).
const MAX_LEVEL: usize = 4;

/// One bookmark: its depth in the outline (1 = top), title and page (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub level: u8,
    pub title: String,
    pub page: u32,
}

/// The outline's entries in document order; empty when the file has none (or none that
/// points at a page of `pages`).
pub fn read(doc: &PdfDoc, pages: &[ObjectId]) -> Vec<Entry> {
    let Ok(catalog) = doc.catalog() else {
        return Vec::new();
    };
    let Some(Object::Dictionary(root)) = deref(doc, catalog.get(b"Outlines").ok()) else {
        return Vec::new();
    };
    let page_of: HashMap<ObjectId, u32> = pages
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u32 + 1))
        .collect();
    let mut walk = Walk {
        doc,
        page_of,
        names: None,
        seen: HashSet::new(),
        out: Vec::new(),
    };
    walk.children(root, 1);
    walk.out
}

struct Walk<'d> {
    doc: &'d PdfDoc,
    page_of: HashMap<ObjectId, u32>,
    /// Named destinations, read on first need.
    names: Option<HashMap<Vec<u8>, u32>>,
    /// Outline dictionaries already visited (by object id): a loop ends here.
    seen: HashSet<ObjectId>,
    out: Vec<Entry>,
}

impl Walk<'_> {
    /// Reads the children of `parent` (its `/First`, then each `/Next`), depth first.
    fn children(&mut self, parent: &Dictionary, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut next = parent.get(b"First").ok().cloned();
        while let Some(link) = next.take() {
            if self.out.len() >= MAX_ENTRIES {
                return;
            }
            let Object::Reference(id) = link else {
                return;
            };
            if !self.seen.insert(id) {
                return;
            }
            let Ok(Object::Dictionary(item)) = self.doc.get_object(id) else {
                return;
            };
            let title = match deref(self.doc, item.get(b"Title").ok()) {
                Some(Object::String(bytes, _)) => {
                    crate::parse::normalize_ws(&decode_text_string(bytes))
                }
                _ => String::new(),
            };
            if let Some(page) = self.target(item) {
                if !title.is_empty() {
                    self.out.push(Entry {
                        level: depth.min(u8::MAX as usize) as u8,
                        title,
                        page,
                    });
                }
            }
            self.children(item, depth + 1);
            next = item.get(b"Next").ok().cloned();
        }
    }

    /// The page an outline item goes to: its `/Dest`, or the `/D` of a `GoTo` action.
    fn target(&mut self, item: &Dictionary) -> Option<u32> {
        if let Ok(dest) = item.get(b"Dest") {
            return self.destination(dest);
        }
        let Some(Object::Dictionary(action)) = deref(self.doc, item.get(b"A").ok()) else {
            return None;
        };
        match action.get(b"S") {
            Ok(Object::Name(s)) if s == b"GoTo" => self.destination(action.get(b"D").ok()?),
            _ => None,
        }
    }

    /// A destination's page: an explicit `[page /XYZ …]` array, or a name looked up in the
    /// document's named destinations.
    fn destination(&mut self, dest: &Object) -> Option<u32> {
        match deref(self.doc, Some(dest))? {
            Object::Array(a) => match a.first()? {
                Object::Reference(id) => self.page_of.get(id).copied(),
                _ => None,
            },
            Object::Name(n) | Object::String(n, _) => {
                let n = n.clone();
                self.named().get(&n).copied()
            }
            Object::Dictionary(d) => self.destination(d.get(b"D").ok()?),
            _ => None,
        }
    }

    fn named(&mut self) -> &HashMap<Vec<u8>, u32> {
        if self.names.is_none() {
            let names = self.read_names();
            self.names = Some(names);
        }
        self.names.get_or_insert_with(HashMap::new)
    }

    /// Named destinations: the catalog's `/Dests` dictionary (PDF 1.1) and the `/Dests` name
    /// tree under `/Names`.
    fn read_names(&mut self) -> HashMap<Vec<u8>, u32> {
        let mut found: Vec<(Vec<u8>, Object)> = Vec::new();
        let Ok(catalog) = self.doc.catalog() else {
            return HashMap::new();
        };
        if let Some(Object::Dictionary(d)) = deref(self.doc, catalog.get(b"Dests").ok()) {
            found.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let tree = match deref(self.doc, catalog.get(b"Names").ok()) {
            Some(Object::Dictionary(names)) => deref(self.doc, names.get(b"Dests").ok()),
            _ => None,
        };
        if let Some(Object::Dictionary(root)) = tree {
            let mut stack = vec![root];
            let mut visited = HashSet::new();
            let mut nodes = 0;
            while let Some(node) = stack.pop() {
                nodes += 1;
                if nodes > MAX_NAME_NODES {
                    break;
                }
                if let Some(Object::Array(pairs)) = deref(self.doc, node.get(b"Names").ok()) {
                    for pair in pairs.chunks_exact(2) {
                        if let Object::String(key, _) = &pair[0] {
                            found.push((key.clone(), pair[1].clone()));
                        }
                    }
                }
                if let Some(Object::Array(kids)) = deref(self.doc, node.get(b"Kids").ok()) {
                    for kid in kids {
                        if let Object::Reference(id) = kid {
                            if !visited.insert(*id) {
                                continue;
                            }
                        }
                        if let Some(Object::Dictionary(k)) = deref(self.doc, Some(kid)) {
                            stack.push(k);
                        }
                    }
                }
            }
        }
        let mut names = HashMap::new();
        self.names = Some(HashMap::new()); // a named destination naming another ends here
        for (key, value) in found {
            if let Some(page) = self.destination(&value) {
                names.insert(key, page);
            }
        }
        names
    }
}

/// A block that holds a bookmark's heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    /// The whole block is the heading.
    Whole(u8),
    /// The heading is the block's text up to byte `end`; the rest is the section's first
    /// paragraph, run into the heading line by the layout (a run-in heading, or a bold
    /// heading at the body size with no extra space below it).
    Leading { level: u8, end: usize },
}

/// Finds the bookmarks' headings: for each bookmark in order, the first block on its page (or
/// the next: a destination may point just above a heading at the foot of a page) whose text
/// is the bookmark's title, numbering aside; failing that, one that starts with it. `None`
/// when fewer than half of the bookmarks are found: the outline then describes something
/// else than the text (or the text was not extracted as the author laid it out), and the
/// font sizes decide.
///
/// `blocks` are in reading order with their 1-based pages.
pub fn headings_from(
    entries: &[Entry],
    blocks: &[(u32, &TextBlock)],
) -> Option<Vec<Option<Heading>>> {
    let last_page = blocks.last()?.0;
    let wanted: Vec<&Entry> = entries.iter().filter(|e| e.page <= last_page).collect();
    if wanted.len() < 2 {
        return None;
    }
    // Where each page's blocks start.
    let mut first_of_page: HashMap<u32, usize> = HashMap::new();
    for (i, (page, _)) in blocks.iter().enumerate() {
        first_of_page.entry(*page).or_insert(i);
    }
    let keys: Vec<Key> = blocks.iter().map(|(_, b)| Key::of(&b.text)).collect();
    let mut found: Vec<Option<Heading>> = vec![None; blocks.len()];
    let mut cursor = 0;
    let mut count = 0;
    for e in &wanted {
        let title = Key::of(&e.title);
        if title.whole.is_empty() {
            continue;
        }
        let level = usize::from(e.level).clamp(1, MAX_LEVEL) as u8;
        let candidates = |p: u32| {
            let start = first_of_page
                .get(&p)
                .map_or(blocks.len(), |s| (*s).max(cursor));
            (start..blocks.len()).take_while(move |i| blocks[*i].0 == p)
        };
        let hit = [e.page, e.page + 1].iter().find_map(|p| {
            candidates(*p)
                .find(|i| found[*i].is_none() && keys[*i].matches(&title))
                .map(|i| (i, Heading::Whole(level)))
                .or_else(|| {
                    candidates(*p).find_map(|i| {
                        let end = leading(&blocks[i].1.text, &title)?;
                        found[i]
                            .is_none()
                            .then_some((i, Heading::Leading { level, end }))
                    })
                })
        });
        if let Some((i, heading)) = hit {
            found[i] = Some(heading);
            cursor = i + 1;
            count += 1;
        }
    }
    tracing::debug!(
        bookmarks = wanted.len(),
        found = count,
        "pdf outline matched to blocks"
    );
    (count * 2 >= wanted.len()).then_some(found)
}

/// Shortest title (in letters and digits) looked for at the start of a longer block without a
/// section number: a short one ("Names") starts too many ordinary sentences.
const MIN_LEADING_KEY: usize = 8;

/// Where the heading `title` ends in `text` when `text` starts with it (numbering aside) and
/// goes on: the byte offset after its last letter or digit.
fn leading(text: &str, title: &Key) -> Option<usize> {
    let whole = key(text);
    let unnumbered = unnumbered(text);
    // A section number before the title ("2.1.1 Vectors R has…") makes even a short title a
    // safe find.
    let numbered = unnumbered.len() < text.len();
    let shortest = if numbered { 3 } else { MIN_LEADING_KEY };
    let (from, wanted) = if whole.starts_with(&title.whole) {
        (text, title.whole.chars().count())
    } else if key(unnumbered).starts_with(&title.unnumbered) {
        (unnumbered, title.unnumbered.chars().count())
    } else {
        return None;
    };
    if wanted < shortest {
        return None;
    }
    // Walk the text to the `wanted`-th letter or digit (lowercasing can change the count of
    // a few characters; such a heading is just not split).
    let mut seen = 0;
    for (at, c) in from.char_indices() {
        if c.is_alphanumeric() {
            seen += c.to_lowercase().count();
            if seen == wanted {
                let end = text.len() - from.len() + at + c.len_utf8();
                // The heading ends at a word's end, and something follows it.
                let rest = &text[end..];
                let at_word_end = !rest.starts_with(char::is_alphanumeric);
                return (at_word_end && rest.chars().any(char::is_alphanumeric)).then_some(end);
            }
            if seen > wanted {
                return None;
            }
        }
    }
    None
}

/// A heading or bookmark text as compared: lowercase letters and digits only ("2.1
/// Installing" and "2.1  Installing" agree), whole and without its numbering.
struct Key {
    whole: String,
    unnumbered: String,
}

impl Key {
    fn of(text: &str) -> Key {
        Key {
            whole: key(text),
            unnumbered: key(unnumbered(text)),
        }
    }

    /// The same text, or the same once numbering is off either ("2.1 Installing" in the text
    /// for the bookmark "Installing"; "Getting Started" under a "Part I" line for the bookmark
    /// "I Getting Started").
    fn matches(&self, other: &Key) -> bool {
        self.whole == other.whole
            || (!self.unnumbered.is_empty() && self.unnumbered == other.unnumbered)
    }
}

fn key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `text` without a leading section number: `2.1`, `A.3.`, a roman numeral, a single capital
/// (an appendix), optionally after `Chapter`, `Part`, `Section` or `Appendix`.
fn unnumbered(text: &str) -> &str {
    let mut rest = text.trim_start();
    for word in ["chapter", "part", "section", "appendix"] {
        if rest.len() > word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && rest[word.len()..].starts_with(char::is_whitespace)
        {
            rest = rest[word.len()..].trim_start();
            break;
        }
    }
    let Some((token, after)) = rest.split_once(char::is_whitespace) else {
        return rest;
    };
    let token = token.trim_end_matches(['.', ':', ')']);
    let numbering = !token.is_empty()
        && (token.chars().all(|c| c.is_ascii_digit() || c == '.')
            || (token.len() <= 6 && token.chars().all(|c| "IVXLC".contains(c)))
            || (token.len() == 1 && token.chars().all(|c| c.is_ascii_uppercase()))
            || token.split_once('.').is_some_and(|(a, b)| {
                a.len() == 1
                    && a.chars().all(|c| c.is_ascii_uppercase())
                    && b.chars().all(|c| c.is_ascii_digit() || c == '.')
            }));
    if numbering {
        after.trim_start()
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> TextBlock {
        TextBlock {
            text: text.into(),
            size: 10.0,
            bold: false,
        }
    }

    fn entry(level: u8, title: &str, page: u32) -> Entry {
        Entry {
            level,
            title: title.into(),
            page,
        }
    }

    #[test]
    fn bookmarks_find_their_headings_page_by_page() {
        let b = [
            block("Contents"),
            block("1 Installing"),
            block("Run the installer."),
            block("1.1 Requirements"),
            block("Two cores."),
            block("Requirements are listed above."),
            block("2 Usage"),
            block("Start it."),
        ];
        let pages = [1, 2, 2, 2, 2, 3, 3, 3];
        let blocks: Vec<(u32, &TextBlock)> = pages.iter().copied().zip(b.iter()).collect();
        let entries = [
            entry(1, "Installing", 2),
            entry(2, "Requirements", 2),
            entry(1, "Usage", 3),
            entry(1, "Index", 9), // past the pages kept: not counted
        ];
        let levels = headings_from(&entries, &blocks).unwrap();
        let w = |l| Some(Heading::Whole(l));
        assert_eq!(levels, vec![None, w(1), None, w(2), None, None, w(1), None]);
        // A bookmark whose heading starts on the next page is found there.
        let late = [entry(1, "Installing", 1), entry(1, "Usage", 3)];
        assert_eq!(headings_from(&late, &blocks).unwrap()[1], w(1));
        // Mostly not found: the font sizes decide.
        let strange = [
            entry(1, "Preface", 1),
            entry(1, "Appendix", 2),
            entry(1, "Usage", 3),
        ];
        assert!(headings_from(&strange, &blocks).is_none());
    }

    #[test]
    fn a_heading_run_into_its_first_paragraph_is_found_at_the_start_of_the_block() {
        let b = [
            block("2.1.3 Language objects There are three types of objects."),
            block("Names are symbols."),
            block("Function objects"),
        ];
        let blocks: Vec<(u32, &TextBlock)> = b.iter().map(|b| (9, b)).collect();
        let entries = [
            entry(3, "Language objects", 9),
            entry(3, "Names", 9), // too short to be looked for at a block's start
            entry(3, "Function objects", 9),
        ];
        let found = headings_from(&entries, &blocks).unwrap();
        let end = "2.1.3 Language objects".len();
        assert_eq!(
            found,
            vec![
                Some(Heading::Leading { level: 3, end }),
                None,
                Some(Heading::Whole(3))
            ]
        );
        assert_eq!(
            leading(
                "Installing Debian on a laptop",
                &Key::of("Installing Debian")
            ),
            Some(17)
        );
        // Not inside a word, and not when nothing follows.
        assert_eq!(leading("Installingness", &Key::of("Installing")), None);
        assert_eq!(
            leading("Installing Debian.", &Key::of("Installing Debian")),
            None
        );
    }

    #[test]
    fn keys_ignore_spacing_case_punctuation_and_numbering() {
        assert_eq!(key("2.1  Installing, Quickly!"), "21installingquickly");
        let m = |a: &str, b: &str| Key::of(a).matches(&Key::of(b));
        assert!(m("2.1 Installing", "Installing"));
        assert!(m("Installing", "installing"));
        assert!(m("Getting Started", "I Getting Started"));
        assert!(m("Chapter 3 Care", "3 Care"));
        assert!(m("A.2 Glossary", "Glossary"));
        assert!(!m("Installing Debian", "Installing"));
        assert!(!m("2.1", "2.2"));
        assert_eq!(unnumbered("Part IV: Reference"), "Reference");
        assert_eq!(unnumbered("Installing"), "Installing");
        assert_eq!(unnumbered("Über 2 Dinge"), "Über 2 Dinge");
    }
}

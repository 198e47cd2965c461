//! Fonts: how the bytes of a shown string become characters, and how far each glyph moves
//! the pen.
//!
//! * Simple fonts (Type1, TrueType, Type3): one byte per code. The text of a code comes from
//!   the `/ToUnicode` CMap when it maps the code, else from the encoding: a base encoding
//!   (named, or the built-in encoding of an embedded Type1 program) with `/Differences`
//!   glyph names on top. Everything is resolved once into a 256-entry table.
//! * Composite fonts (Type0): codes of one to four bytes split by the encoding CMap
//!   (`Identity-H/V` = two bytes, an embedded CMap's code space ranges, or a predefined CMap).
//!   Text comes from `/ToUnicode`; predefined Unicode CMaps (`UniJIS-UCS2-H`, …) carry the
//!   text in the codes themselves, and legacy CJK CMaps (`90ms-RKSJ-H`, `GBK-EUC-H`, …) are
//!   decoded with encoding_rs. Widths come from the descendant font's `/W` and `/DW`.
//!
//! Widths are kept in text space units per unit of font size (a 1000-unit glyph is 1.0), so
//! the interpreter can place the next glyph and see gaps between words.

use super::encoding::{glyph_to_unicode, BaseEncoding};
use super::lexer::{Lexer, Tok};
use super::Ctx;
use crate::error::Result;
use lopdf::{Dictionary, Document as PdfDoc, Object};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hasher for small integer keys (character codes); std's SipHash is a
/// needless cost on the per-glyph path.
#[derive(Default)]
pub struct CodeHasher(u64);

impl Hasher for CodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type CodeMap<V> = HashMap<u32, V, BuildHasherDefault<CodeHasher>>;

/// Ranges of `bfrange` up to this many codes are expanded into the code map; longer ones
/// stay ranges (a `<0000> <FFFF>` range would otherwise cost 65,536 entries).
const EXPAND_RANGE: u32 = 1024;

/// A code space range: codes of `len` bytes between `lo` and `hi` (per byte, as the CMap
/// format defines, but compared as whole numbers, which is what files mean in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeRange {
    len: u8,
    lo: u32,
    hi: u32,
}

/// How a composite font's string splits into codes.
#[derive(Debug, Clone)]
enum Codes {
    /// `Identity-H`/`-V`, and the default when nothing better is known.
    TwoByte,
    /// An embedded CMap's code space ranges.
    Ranges(Vec<CodeRange>),
    /// A predefined Unicode CMap: the codes are UTF-16BE.
    Utf16,
    /// A predefined legacy CJK CMap, decoded with its encoding.
    Legacy(&'static encoding_rs::Encoding),
}

/// A ToUnicode CMap: code → text.
#[derive(Debug, Default)]
pub struct UnicodeMap {
    map: CodeMap<Box<str>>,
    /// Long `bfrange`s: `(lo, hi, first destination as UTF-16 units)`, sorted by `lo`.
    ranges: Vec<(u32, u32, Vec<u16>)>,
    codespace: Vec<CodeRange>,
}

impl UnicodeMap {
    /// Appends the text of `code` to `out`; false when the map does not know the code.
    fn lookup(&self, code: u32, out: &mut String) -> bool {
        if let Some(t) = self.map.get(&code) {
            out.push_str(t);
            return true;
        }
        let i = self.ranges.partition_point(|r| r.0 <= code);
        if i > 0 {
            let (lo, hi, base) = &self.ranges[i - 1];
            if code <= *hi {
                push_offset(base, code - lo, out);
                return true;
            }
        }
        false
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty() && self.ranges.is_empty()
    }
}

/// Appends `base` with its last UTF-16 unit increased by `offset` (how `bfrange` maps
/// consecutive codes).
fn push_offset(base: &[u16], offset: u32, out: &mut String) {
    let Some((&last, head)) = base.split_last() else {
        return;
    };
    let bumped = u32::from(last) + offset;
    match u16::try_from(bumped) {
        // Usually the last unit is a BMP character or the low half of a surrogate pair
        // (math italic letters): decode the pair together.
        Ok(unit) => out.extend(
            char::decode_utf16(head.iter().copied().chain([unit])).map(|r| r.unwrap_or('\u{FFFD}')),
        ),
        Err(_) => {
            out.extend(char::decode_utf16(head.iter().copied()).flatten());
            out.extend(char::from_u32(bumped));
        }
    }
}

/// Text must be real characters: a mapping to NUL or other controls is a broken CMap, and
/// the encoding is a better guess.
fn usable(text: &str) -> bool {
    !text.is_empty() && !text.chars().all(|c| c.is_control() && !c.is_whitespace())
}

fn be_code(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| acc << 8 | u32::from(b))
}

/// The destination of a `bfchar`/`bfrange` entry as UTF-16 units.
fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    if bytes.len() == 1 {
        return vec![u16::from(bytes[0])];
    }
    bytes
        .chunks(2)
        .map(|p| match p {
            [h, l] => u16::from_be_bytes([*h, *l]),
            [h] => u16::from(*h),
            _ => 0,
        })
        .collect()
}

fn units_to_string(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// The parts of a CMap lore uses: code space ranges, Unicode mappings (`bf*`), CID mappings
/// (`cid*`) and the name of a CMap it builds on (`usecmap`).
#[derive(Default)]
struct ParsedCMap {
    unicode: UnicodeMap,
    cids: Vec<(u32, u32, u32)>,
    usecmap: Option<Vec<u8>>,
}

fn parse_cmap(data: &[u8]) -> ParsedCMap {
    #[derive(PartialEq, Clone, Copy)]
    enum Section {
        None,
        Codespace,
        BfChar,
        BfRange,
        CidChar,
        CidRange,
    }
    let mut out = ParsedCMap::default();
    let mut section = Section::None;
    let mut operands: Vec<Tok<'_>> = Vec::new();
    let mut in_array = false;
    let mut array: Vec<Vec<u16>> = Vec::new();
    let mut expanded: u32 = 0;
    let mut last_name: Option<Vec<u8>> = None;
    for tok in Lexer::new(data) {
        match tok {
            Tok::Op(op) => {
                match op {
                    b"begincodespacerange" => section = Section::Codespace,
                    b"beginbfchar" => section = Section::BfChar,
                    b"beginbfrange" => section = Section::BfRange,
                    b"begincidchar" => section = Section::CidChar,
                    b"begincidrange" => section = Section::CidRange,
                    b"endcodespacerange" | b"endbfchar" | b"endbfrange" | b"endcidchar"
                    | b"endcidrange" => section = Section::None,
                    b"usecmap" => out.usecmap = last_name.take(),
                    _ => {}
                }
                operands.clear();
                continue;
            }
            Tok::ArrayStart if section == Section::BfRange => {
                in_array = true;
                array.clear();
                continue;
            }
            Tok::ArrayEnd if in_array => {
                in_array = false;
                // `<lo> <hi> [<dst> <dst> …]`
                if let [Tok::Str(lo), Tok::Str(hi)] = operands.as_slice() {
                    let (lo, hi) = (be_code(lo), be_code(hi));
                    for (i, dst) in array.iter().enumerate() {
                        let code = lo.saturating_add(i as u32);
                        if code > hi {
                            break;
                        }
                        let text = units_to_string(dst);
                        if usable(&text) {
                            out.unicode.map.insert(code, text.into_boxed_str());
                        }
                    }
                }
                operands.clear();
                continue;
            }
            Tok::Str(ref s) if in_array => {
                array.push(utf16_units(s));
                continue;
            }
            Tok::Name(ref n) if section == Section::None => {
                last_name = Some(n.to_vec());
                continue;
            }
            _ => {}
        }
        if section == Section::None || in_array {
            continue;
        }
        operands.push(tok);
        match section {
            Section::Codespace if operands.len() == 2 => {
                if let [Tok::Str(lo), Tok::Str(hi)] = operands.as_slice() {
                    if !lo.is_empty() && lo.len() <= 4 {
                        out.unicode.codespace.push(CodeRange {
                            len: lo.len() as u8,
                            lo: be_code(lo),
                            hi: be_code(hi),
                        });
                    }
                }
                operands.clear();
            }
            Section::BfChar if operands.len() == 2 => {
                let text = match &operands[1] {
                    Tok::Str(dst) => Some(units_to_string(&utf16_units(dst))),
                    Tok::Name(name) => std::str::from_utf8(name).ok().and_then(glyph_to_unicode),
                    _ => None,
                };
                if let (Tok::Str(src), Some(text)) = (&operands[0], text) {
                    if usable(&text) {
                        out.unicode.map.insert(be_code(src), text.into_boxed_str());
                    }
                }
                operands.clear();
            }
            Section::BfRange if operands.len() == 3 => {
                if let [Tok::Str(lo), Tok::Str(hi), Tok::Str(dst)] = operands.as_slice() {
                    let (lo, hi) = (be_code(lo), be_code(hi));
                    let base = utf16_units(dst);
                    if hi >= lo && !base.is_empty() {
                        let n = hi - lo;
                        if n < EXPAND_RANGE && expanded < 256 * 1024 {
                            expanded += n + 1;
                            for off in 0..=n {
                                let mut s = String::new();
                                push_offset(&base, off, &mut s);
                                if usable(&s) {
                                    out.unicode.map.insert(lo + off, s.into_boxed_str());
                                }
                            }
                        } else {
                            out.unicode.ranges.push((lo, hi, base));
                        }
                    }
                }
                operands.clear();
            }
            Section::CidChar if operands.len() == 2 => {
                if let [Tok::Str(src), Tok::Num(cid)] = operands.as_slice() {
                    let c = be_code(src);
                    out.cids.push((c, c, *cid as u32));
                }
                operands.clear();
            }
            Section::CidRange if operands.len() == 3 => {
                if let [Tok::Str(lo), Tok::Str(hi), Tok::Num(cid)] = operands.as_slice() {
                    out.cids.push((be_code(lo), be_code(hi), *cid as u32));
                }
                operands.clear();
            }
            _ => {
                if operands.len() > 3 {
                    operands.clear();
                }
            }
        }
    }
    out.unicode.ranges.sort_by_key(|r| r.0);
    out.cids.sort_by_key(|r| r.0);
    out
}

/// Widths of a CID font: `/W` ranges over `/DW`.
#[derive(Debug, Default)]
struct CidWidths {
    /// `(first, last, widths)`: one width for the whole range, or one per CID.
    ranges: Vec<(u32, u32, Vec<f32>)>,
    default: f32,
}

impl CidWidths {
    fn get(&self, cid: u32) -> f32 {
        let i = self.ranges.partition_point(|r| r.0 <= cid);
        if i > 0 {
            let (lo, hi, w) = &self.ranges[i - 1];
            if cid <= *hi {
                return match w.len() {
                    1 => w[0],
                    _ => w.get((cid - lo) as usize).copied().unwrap_or(self.default),
                };
            }
        }
        self.default
    }
}

/// A resolved simple-font code table.
struct SimpleTable {
    text: String,
    /// `(start, len)` of each code's text in `text`.
    spans: [(u32, u8); 256],
    widths: [f32; 256],
}

enum Kind {
    Simple(Box<SimpleTable>),
    Composite {
        codes: Codes,
        to_unicode: Option<UnicodeMap>,
        cid_map: Vec<(u32, u32, u32)>,
        widths: CidWidths,
    },
}

/// A font ready to decode strings.
pub struct Font {
    kind: Kind,
    /// Writing mode 1 (`Identity-V`, …): glyphs advance downwards.
    pub vertical: bool,
    /// How big an em of this font is relative to its font size: 1 except for Type3 fonts,
    /// whose `/FontMatrix` defines their own units.
    pub em: f32,
    /// A bold face (by its name, `/FontWeight` or the ForceBold flag): headings set in the
    /// body size are told by it.
    pub bold: bool,
}

/// One decoded glyph: its text (possibly empty, when the font cannot say), its width in text
/// space per unit of font size, and whether it is the single-byte code 32 (to which word
/// spacing applies).
pub struct Glyph<'s> {
    pub text: &'s str,
    pub width: f32,
    pub word_space: bool,
}

impl Font {
    /// Decodes `bytes`, calling `f` for every glyph.
    pub fn decode(&self, bytes: &[u8], scratch: &mut String, mut f: impl FnMut(Glyph<'_>)) {
        match &self.kind {
            Kind::Simple(t) => {
                for &b in bytes {
                    let (start, len) = t.spans[b as usize];
                    let text = &t.text[start as usize..start as usize + len as usize];
                    f(Glyph {
                        text,
                        width: t.widths[b as usize],
                        word_space: b == b' ',
                    });
                }
            }
            Kind::Composite {
                codes,
                to_unicode,
                cid_map,
                widths,
            } => match codes {
                Codes::Utf16 | Codes::Legacy(_) => {
                    let decoded = match codes {
                        Codes::Legacy(enc) => enc.decode_without_bom_handling(bytes).0,
                        _ => encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0,
                    };
                    let mut buf = [0u8; 4];
                    for c in decoded.chars() {
                        let width = if c.is_ascii() {
                            widths.default * 0.5
                        } else {
                            widths.default
                        };
                        f(Glyph {
                            text: c.encode_utf8(&mut buf),
                            width,
                            word_space: c == ' ',
                        });
                    }
                }
                Codes::TwoByte | Codes::Ranges(_) => {
                    let mut i = 0;
                    while i < bytes.len() {
                        let n = match codes {
                            Codes::Ranges(r) => code_len(r, &bytes[i..]),
                            _ => 2,
                        }
                        .min(bytes.len() - i);
                        let code = be_code(&bytes[i..i + n]);
                        i += n;
                        scratch.clear();
                        if let Some(m) = to_unicode {
                            m.lookup(code, scratch);
                        }
                        let cid = if cid_map.is_empty() {
                            code
                        } else {
                            lookup_cid(cid_map, code)
                        };
                        f(Glyph {
                            text: scratch.as_str(),
                            width: widths.get(cid),
                            word_space: n == 1 && code == 32,
                        });
                    }
                }
            },
        }
    }

    /// A font that shows nothing but still moves the pen (for a `Tf` naming a missing font).
    pub fn fallback() -> Font {
        let mut spans = [(0u32, 0u8); 256];
        let mut text = String::new();
        for code in 0x20u8..0x7F {
            spans[code as usize] = (text.len() as u32, 1);
            text.push(code as char);
        }
        Font {
            kind: Kind::Simple(Box::new(SimpleTable {
                text,
                spans,
                widths: [0.5; 256],
            })),
            vertical: false,
            em: 1.0,
            bold: false,
        }
    }

    /// Builds a font from its dictionary. Only limit breaches fail; a font lore cannot make
    /// sense of yields empty text rather than an error.
    pub fn load(ctx: &Ctx<'_>, doc: &PdfDoc, dict: &Dictionary) -> Result<Font> {
        let to_unicode = match deref(doc, dict.get(b"ToUnicode").ok()) {
            Some(Object::Stream(s)) => {
                let data = ctx.stream_bytes(s)?;
                Some(parse_cmap(&data).unicode).filter(|m| !m.is_empty())
            }
            _ => None,
        };
        let mut font = if dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0") {
            load_composite(ctx, doc, dict, to_unicode)?
        } else {
            load_simple(ctx, doc, dict, to_unicode)?
        };
        font.bold = is_bold(doc, dict);
        Ok(font)
    }
}

/// Whether a font dictionary describes a bold face: its `/BaseFont` name (subset prefix
/// `ABCDEF+` aside) says Bold, Black, Heavy, Semibold or Demi, or its descriptor (of the
/// font, or of a Type0 font's descendant) has `/FontWeight` ≥ 600 or the ForceBold flag.
fn is_bold(doc: &PdfDoc, dict: &Dictionary) -> bool {
    let name = dict
        .get(b"BaseFont")
        .and_then(Object::as_name)
        .map(|n| String::from_utf8_lossy(n).to_lowercase())
        .unwrap_or_default();
    let name = name.split_once('+').map_or(name.as_str(), |(_, n)| n);
    if ["bold", "black", "heavy", "semibold", "demi"]
        .iter()
        .any(|w| name.contains(w))
    {
        return true;
    }
    let descendant = match deref(doc, dict.get(b"DescendantFonts").ok()) {
        Some(Object::Array(a)) => match deref(doc, a.first()) {
            Some(Object::Dictionary(d)) => Some(d),
            _ => None,
        },
        _ => None,
    };
    [Some(dict), descendant].into_iter().flatten().any(|d| {
        let Some(Object::Dictionary(fd)) = deref(doc, d.get(b"FontDescriptor").ok()) else {
            return false;
        };
        let number = |key: &[u8]| match deref(doc, fd.get(key).ok()) {
            Some(Object::Integer(i)) => Some(*i as f64),
            Some(Object::Real(r)) => Some(f64::from(*r)),
            _ => None,
        };
        number(b"FontWeight").is_some_and(|w| w >= 600.0)
            || number(b"Flags").is_some_and(|f| (f as i64) & (1 << 18) != 0)
    })
}

fn code_len(ranges: &[CodeRange], bytes: &[u8]) -> usize {
    for n in 1..=4usize.min(bytes.len()) {
        let code = be_code(&bytes[..n]);
        if ranges
            .iter()
            .any(|r| r.len as usize == n && r.lo <= code && code <= r.hi)
        {
            return n;
        }
    }
    // Not in any range: take the shortest length the CMap uses (at least one byte).
    ranges
        .iter()
        .map(|r| r.len as usize)
        .min()
        .unwrap_or(1)
        .max(1)
}

fn lookup_cid(map: &[(u32, u32, u32)], code: u32) -> u32 {
    let i = map.partition_point(|r| r.0 <= code);
    if i > 0 {
        let (lo, hi, cid) = map[i - 1];
        if code <= hi {
            return cid + (code - lo);
        }
    }
    0
}

/// Follows references (a bounded number of times) to the object itself.
pub fn deref<'a>(doc: &'a PdfDoc, obj: Option<&'a Object>) -> Option<&'a Object> {
    let mut obj = obj?;
    for _ in 0..8 {
        match obj {
            Object::Reference(id) => obj = doc.get_object(*id).ok()?,
            other => return Some(other),
        }
    }
    None
}

fn number(obj: Option<&Object>) -> Option<f32> {
    match obj? {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// A predefined CMap's code scheme, by name.
fn predefined_codes(name: &[u8]) -> Codes {
    let name = String::from_utf8_lossy(name);
    if name.starts_with("Identity") {
        return Codes::TwoByte;
    }
    if name.starts_with("Uni") && (name.contains("UCS2") || name.contains("UTF16")) {
        return Codes::Utf16;
    }
    let legacy = if name.contains("RKSJ") {
        Some(encoding_rs::SHIFT_JIS)
    } else if name.starts_with("GBK") || name.starts_with("GBpc") || name.starts_with("GB-") {
        Some(encoding_rs::GBK)
    } else if name.starts_with("B5") || name.starts_with("ETen") || name.starts_with("HKscs") {
        Some(encoding_rs::BIG5)
    } else if name.starts_with("KSC") {
        Some(encoding_rs::EUC_KR)
    } else if name.starts_with("EUC") || name.starts_with("83pv") {
        Some(encoding_rs::EUC_JP)
    } else {
        None
    };
    legacy.map_or(Codes::TwoByte, Codes::Legacy)
}

fn load_composite(
    ctx: &Ctx<'_>,
    doc: &PdfDoc,
    dict: &Dictionary,
    to_unicode: Option<UnicodeMap>,
) -> Result<Font> {
    let mut vertical = false;
    let mut cid_map = Vec::new();
    let codes = match deref(doc, dict.get(b"Encoding").ok()) {
        Some(Object::Name(name)) => {
            vertical = name.ends_with(b"-V");
            predefined_codes(name)
        }
        Some(Object::Stream(s)) => {
            vertical = s.dict.get(b"WMode").ok().and_then(|o| o.as_i64().ok()) == Some(1);
            let parsed = parse_cmap(&ctx.stream_bytes(s)?);
            cid_map = parsed.cids;
            match parsed.usecmap.as_deref() {
                _ if !parsed.unicode.codespace.is_empty() => {
                    Codes::Ranges(parsed.unicode.codespace)
                }
                Some(base) => predefined_codes(base),
                None => Codes::TwoByte,
            }
        }
        _ => Codes::TwoByte,
    };
    // A Unicode CMap with no code space of its own falls back to the ToUnicode's ranges.
    let codes = match codes {
        Codes::TwoByte => match &to_unicode {
            Some(m) if !m.codespace.is_empty() && m.codespace.iter().any(|r| r.len != 2) => {
                Codes::Ranges(m.codespace.clone())
            }
            _ => Codes::TwoByte,
        },
        other => other,
    };
    let descendant = match deref(doc, dict.get(b"DescendantFonts").ok()) {
        Some(Object::Array(a)) => match deref(doc, a.first()) {
            Some(Object::Dictionary(d)) => Some(d),
            _ => None,
        },
        Some(Object::Dictionary(d)) => Some(d),
        _ => None,
    };
    let mut widths = CidWidths {
        ranges: Vec::new(),
        default: 1.0,
    };
    if let Some(d) = descendant {
        if let Some(dw) = number(deref(doc, d.get(b"DW").ok())) {
            widths.default = dw / 1000.0;
        }
        if let Some(Object::Array(w)) = deref(doc, d.get(b"W").ok()) {
            let mut i = 0;
            while i < w.len() {
                let Some(first) = number(deref(doc, w.get(i))) else {
                    break;
                };
                match deref(doc, w.get(i + 1)) {
                    Some(Object::Array(list)) => {
                        let ws: Vec<f32> = list
                            .iter()
                            .map(|o| number(deref(doc, Some(o))).unwrap_or(0.0) / 1000.0)
                            .collect();
                        if !ws.is_empty() {
                            let first = first.max(0.0) as u32;
                            let last = first.saturating_add(ws.len() as u32 - 1);
                            widths.ranges.push((first, last, ws));
                        }
                        i += 2;
                    }
                    Some(_) => {
                        let last = number(deref(doc, w.get(i + 1))).unwrap_or(first);
                        let width = number(deref(doc, w.get(i + 2))).unwrap_or(0.0) / 1000.0;
                        widths.ranges.push((
                            first.max(0.0) as u32,
                            last.max(0.0) as u32,
                            vec![width],
                        ));
                        i += 3;
                    }
                    None => break,
                }
            }
            widths.ranges.sort_by_key(|r| r.0);
        }
    }
    Ok(Font {
        kind: Kind::Composite {
            codes,
            to_unicode,
            cid_map,
            widths,
        },
        vertical,
        em: 1.0,
        bold: false,
    })
}

/// Widths of Helvetica for ASCII 0x20–0x7E, in 1/1000 em: the fallback metrics of the
/// standard fonts that files may use without `/Widths`. Other fonts than Helvetica get the
/// same table; it only serves to find the gaps between words.
pub(super) const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 222, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

fn standard_width(base_font: &[u8], code: u8) -> f32 {
    let name = String::from_utf8_lossy(base_font);
    if name.contains("Courier") || name.contains("Mono") {
        return 0.6;
    }
    match code {
        0x20..=0x7E => f32::from(HELVETICA_WIDTHS[(code - 0x20) as usize]) / 1000.0,
        _ => 0.556,
    }
}

/// The encoding built into an embedded Type1 font program: the `dup <code> /<name> put`
/// lines of its cleartext part, or `None` when it uses StandardEncoding (or is not Type1).
fn builtin_encoding(
    ctx: &Ctx<'_>,
    doc: &PdfDoc,
    dict: &Dictionary,
) -> Result<Option<Vec<(u8, String)>>> {
    let Some(Object::Dictionary(desc)) = deref(doc, dict.get(b"FontDescriptor").ok()) else {
        return Ok(None);
    };
    let Some(Object::Stream(s)) = deref(doc, desc.get(b"FontFile").ok()) else {
        return Ok(None);
    };
    let data = ctx.stream_bytes(s)?;
    // The encoding sits in the cleartext part, before `eexec`.
    let clear_len = s
        .dict
        .get(b"Length1")
        .ok()
        .and_then(|o| o.as_i64().ok())
        .map(|n| n.max(0) as usize)
        .unwrap_or(data.len())
        .min(data.len());
    let clear = &data[..clear_len];
    let clear = match clear.windows(5).position(|w| w == b"eexec") {
        Some(p) => &clear[..p],
        None => clear,
    };
    let Some(enc) = clear.windows(9).position(|w| w == b"/Encoding") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let toks = Lexer::new(&clear[enc + 9..]);
    let mut window: [Option<Tok<'_>>; 3] = [None, None, None];
    let mut seen = 0usize;
    for tok in toks {
        seen += 1;
        if seen == 1 && tok == Tok::Op(b"StandardEncoding") {
            return Ok(None);
        }
        match &tok {
            Tok::Op(b"put") => {
                if let [Some(Tok::Op(b"dup")), Some(Tok::Num(code)), Some(Tok::Name(name))] =
                    &window
                {
                    if (0.0..256.0).contains(code) {
                        out.push((*code as u8, String::from_utf8_lossy(name).into_owned()));
                    }
                }
            }
            Tok::Op(b"def") | Tok::Op(b"readonly") if !out.is_empty() => break,
            _ => {}
        }
        window.rotate_left(1);
        window[2] = Some(tok);
        if seen > 4096 {
            break;
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

fn load_simple(
    ctx: &Ctx<'_>,
    doc: &PdfDoc,
    dict: &Dictionary,
    to_unicode: Option<UnicodeMap>,
) -> Result<Font> {
    let subtype = dict
        .get(b"Subtype")
        .and_then(Object::as_name)
        .unwrap_or(b"");
    let base_font = dict
        .get(b"BaseFont")
        .and_then(Object::as_name)
        .unwrap_or(b"");
    let is_type3 = subtype == b"Type3";

    // Base encoding and differences.
    let mut base: Option<BaseEncoding> = None;
    let mut names: Vec<Option<String>> = vec![None; 256];
    let mut has_encoding_base = false;
    match deref(doc, dict.get(b"Encoding").ok()) {
        Some(Object::Name(n)) => {
            base = BaseEncoding::from_name(n);
            has_encoding_base = base.is_some();
        }
        Some(Object::Dictionary(enc)) => {
            if let Some(Object::Name(n)) = deref(doc, enc.get(b"BaseEncoding").ok()) {
                base = BaseEncoding::from_name(n);
                has_encoding_base = base.is_some();
            }
            if let Some(Object::Array(diffs)) = deref(doc, enc.get(b"Differences").ok()) {
                let mut code: i64 = 0;
                for item in diffs {
                    match deref(doc, Some(item)) {
                        Some(Object::Integer(c)) => code = *c,
                        Some(Object::Real(c)) => code = *c as i64,
                        Some(Object::Name(n)) => {
                            if (0..256).contains(&code) {
                                names[code as usize] =
                                    Some(String::from_utf8_lossy(n).into_owned());
                            }
                            code += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
    if !has_encoding_base && !is_type3 {
        if let Some(builtin) = builtin_encoding(ctx, doc, dict)? {
            for (code, name) in builtin {
                if names[code as usize].is_none() {
                    names[code as usize] = Some(name);
                }
            }
        }
    }
    let base = base.unwrap_or(if subtype == b"TrueType" {
        BaseEncoding::WinAnsi
    } else {
        BaseEncoding::Standard
    });

    // Widths (and the Type3 font matrix that scales them).
    let mut scale = 0.001f32;
    let mut em = 1.0f32;
    if is_type3 {
        let mut d = 0.001;
        if let Some(Object::Array(m)) = deref(doc, dict.get(b"FontMatrix").ok()) {
            scale = number(m.first()).unwrap_or(0.001);
            d = number(m.get(3)).unwrap_or(0.001);
        }
        // Type3 glyph units are the font's own (TeX's bitmap fonts use 120 per em), so the
        // em is taken from the font's bounding box: its height in text space.
        if let Some(Object::Array(b)) = deref(doc, dict.get(b"FontBBox").ok()) {
            let h = (number(b.get(3)).unwrap_or(0.0) - number(b.get(1)).unwrap_or(0.0)) * d;
            if h.is_finite() && (0.2..=5.0).contains(&h.abs()) {
                em = h.abs();
            }
        }
    }
    let first = number(deref(doc, dict.get(b"FirstChar").ok())).unwrap_or(0.0) as i64;
    let missing = match deref(doc, dict.get(b"FontDescriptor").ok()) {
        Some(Object::Dictionary(d)) => number(deref(doc, d.get(b"MissingWidth").ok())),
        _ => None,
    };
    let mut widths = [0f32; 256];
    let explicit = match deref(doc, dict.get(b"Widths").ok()) {
        Some(Object::Array(ws)) => Some(ws),
        _ => None,
    };
    for (code, w) in widths.iter_mut().enumerate() {
        let given = explicit.and_then(|ws| {
            let i = code as i64 - first;
            if i < 0 {
                return None;
            }
            number(deref(doc, ws.get(i as usize)))
        });
        *w = match (given, explicit, missing) {
            (Some(v), _, _) => v * scale,
            (None, _, Some(m)) => m * scale,
            (None, Some(_), None) => 0.0,
            (None, None, None) if is_type3 => 0.5 * em,
            (None, None, None) => standard_width(base_font, code as u8),
        };
        if !w.is_finite() {
            *w = 0.0;
        }
    }

    let mut text = String::new();
    let mut spans = [(0u32, 0u8); 256];
    let mut scratch = String::new();
    for (code, span) in spans.iter_mut().enumerate() {
        scratch.clear();
        let from_cmap = to_unicode
            .as_ref()
            .is_some_and(|m| m.lookup(code as u32, &mut scratch) && usable(&scratch));
        if !from_cmap {
            scratch.clear();
            let from_name = names[code]
                .as_deref()
                .and_then(glyph_to_unicode)
                .filter(|s| usable(s));
            match from_name {
                Some(s) => scratch.push_str(&s),
                None => {
                    if let Some(c) = base.char(code as u8) {
                        scratch.push(c);
                    }
                }
            }
        }
        // A code's text is short; cap it so the span fits (and a broken CMap cannot bloat).
        let mut end = scratch.len().min(255);
        while !scratch.is_char_boundary(end) {
            end -= 1;
        }
        *span = (text.len() as u32, end as u8);
        text.push_str(&scratch[..end]);
    }
    Ok(Font {
        kind: Kind::Simple(Box::new(SimpleTable {
            text,
            spans,
            widths,
        })),
        vertical: false,
        em,
        bold: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_bfchar_bfrange_and_arrays() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
            1 begincodespacerange <0000> <FFFF> endcodespacerange
            3 beginbfchar <0003> <0020> <0011> <00660069> <0012> /eacute endbfchar
            3 beginbfrange <0024> <0026> <0041>
            <0030> <0032> [<0061> <D835DC9C> <0063>]
            <0040> <0041> <D835DC65> endbfrange
            1 beginbfrange <1000> <FFFF> <4E00> endbfrange
            endcmap";
        let m = parse_cmap(cmap).unicode;
        let get = |code: u32| {
            let mut s = String::new();
            m.lookup(code, &mut s).then_some(s)
        };
        assert_eq!(get(0x03).as_deref(), Some(" "));
        assert_eq!(get(0x11).as_deref(), Some("fi"));
        assert_eq!(get(0x12).as_deref(), Some("é"));
        assert_eq!(get(0x25).as_deref(), Some("B"));
        assert_eq!(get(0x26).as_deref(), Some("C"));
        assert_eq!(get(0x31).as_deref(), Some("𝒜"));
        assert_eq!(get(0x1001).as_deref(), Some("\u{4E01}"));
        assert_eq!(get(0x41).as_deref(), Some("𝑦"));
        assert_eq!(get(0x27), None);
        assert_eq!(
            m.codespace,
            vec![CodeRange {
                len: 2,
                lo: 0,
                hi: 0xFFFF
            }]
        );
    }

    #[test]
    fn code_lengths_follow_the_codespace() {
        let ranges = [
            CodeRange {
                len: 1,
                lo: 0x00,
                hi: 0x80,
            },
            CodeRange {
                len: 2,
                lo: 0x8140,
                hi: 0x9FFC,
            },
        ];
        assert_eq!(code_len(&ranges, b"A\x81\x40"), 1);
        assert_eq!(code_len(&ranges, b"\x81\x40"), 2);
        assert_eq!(code_len(&ranges, b"\xFF"), 1);
    }

    #[test]
    fn cid_widths_ranges() {
        let w = CidWidths {
            ranges: vec![(1, 3, vec![0.5, 0.6, 0.7]), (10, 20, vec![0.25])],
            default: 1.0,
        };
        assert_eq!(w.get(2), 0.6);
        assert_eq!(w.get(15), 0.25);
        assert_eq!(w.get(5), 1.0);
    }
}

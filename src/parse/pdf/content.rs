//! The content-stream interpreter: runs the operators that place text (and notices images),
//! tracking the graphics state and text matrices so every glyph gets a position.
//!
//! Operators handled: `q`/`Q`/`cm` (the CTM), `BT`/`ET`, `Tf`, `Tc`, `Tw`, `Tz`, `TL`, `Ts`,
//! `Td`, `TD`, `Tm`, `T*`, `Tj`, `TJ`, `'`, `"`, `Do` (Form XObjects run recursively, images
//! counted), inline images (`BI … ID … EI`, skipped and counted) and marked content with an
//! `/ActualText` (`BDC … EMC`: the actual text replaces the glyphs, as producers use it for
//! logos, ligatures and symbols). Everything else only clears the operand stack.

use super::font::{deref, Font, Glyph};
use super::layout::{GlyphBox, Layout};
use super::lexer::{hex_val, Lexer, Tok};
use super::Ctx;
use crate::error::{Error, Reason, Result};
use lopdf::{Dictionary, Document as PdfDoc, Object, ObjectId};
use std::sync::Arc;

/// A TJ adjustment below this (in thousandths of an em) is a word space even when the
/// glyph widths are unknown or wrong.
const TJ_SPACE: f32 = -200.0;

/// Operand stack entries past this are dropped (a garbage stream must not grow it forever).
const MAX_OPERANDS: usize = 4096;

/// Tokens between two checks of the deadline.
const CHECK_EVERY: u32 = 2048;

/// An affine matrix `[a b c d e f]`, row-vector convention as in PDF: `p' = p × M`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mat([f32; 6]);

impl Mat {
    const IDENTITY: Mat = Mat([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self × other`.
    fn mul(&self, o: &Mat) -> Mat {
        let [a, b, c, d, e, f] = self.0;
        let [oa, ob, oc, od, oe, of] = o.0;
        Mat([
            a * oa + b * oc,
            a * ob + b * od,
            c * oa + d * oc,
            c * ob + d * od,
            e * oa + f * oc + oe,
            e * ob + f * od + of,
        ])
    }

    fn translate(tx: f32, ty: f32) -> Mat {
        Mat([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    fn from_slice(v: &[f32]) -> Option<Mat> {
        let m: [f32; 6] = v.try_into().ok()?;
        m.iter().all(|x| x.is_finite()).then_some(Mat(m))
    }
}

/// The parts of the graphics state text extraction needs (text state included, as `q`/`Q`
/// save and restore it).
#[derive(Clone)]
struct GState {
    ctm: Mat,
    font: Option<Arc<Font>>,
    size: f32,
    char_space: f32,
    word_space: f32,
    /// `Tz` / 100.
    hscale: f32,
    leading: f32,
}

impl Default for GState {
    fn default() -> Self {
        GState {
            ctm: Mat::IDENTITY,
            font: None,
            size: 0.0,
            char_space: 0.0,
            word_space: 0.0,
            hscale: 1.0,
            leading: 0.0,
        }
    }
}

/// An operand: a token, an array of them (for `TJ`), or an inline dictionary (marked-content
/// properties) reduced to its `/ActualText`.
enum Operand<'a> {
    Tok(Tok<'a>),
    Array(Vec<Tok<'a>>),
    Props(Option<Vec<u8>>),
}

/// An open `/ActualText` span: its text, the marked-content depth it ends at, and whether it
/// was already emitted.
struct Actual {
    text: String,
    depth: usize,
    emitted: bool,
}

/// What one page yields.
pub struct PageOut {
    pub blocks: Vec<super::layout::TextBlock>,
    /// Non-whitespace characters of text.
    pub chars: usize,
    /// Images drawn (XObjects and inline).
    pub images: usize,
}

/// Extracts the text of one page.
pub fn extract_page(ctx: &Ctx<'_>, doc: &PdfDoc, page_id: ObjectId) -> Result<PageOut> {
    let page = doc.get_dictionary(page_id).map_err(|e| {
        Error::rejected(
            Reason::Corrupted,
            format!("page object {} is unreadable: {e}", page_id.0),
        )
    })?;
    let resources = inherited_resources(doc, page);
    let mut interp = Interp {
        ctx,
        doc,
        gs: GState::default(),
        stack: Vec::new(),
        tm: Mat::IDENTITY,
        tlm: Mat::IDENTITY,
        layout: Layout::new(),
        images: 0,
        fonts: Vec::new(),
        forms: Vec::new(),
        scratch: String::new(),
        hexbuf: Vec::new(),
        ticks: 0,
        marked: 0,
        actual: None,
    };
    interp.layout.clip = page_box(doc, page);
    for content in page_contents(doc, page) {
        let data = ctx.stream_bytes(content)?;
        interp.run(&data, resources)?;
        // Each content stream starts with a fresh operand stack but shares the state.
    }
    if let Some(Object::Array(annots)) = deref(doc, page.get(b"Annots").ok()) {
        for annot in annots {
            if let Some(Object::Dictionary(a)) = deref(doc, Some(annot)) {
                interp.gs = GState::default();
                interp.stack.clear();
                interp.annotation(a, resources)?;
            }
        }
    }
    let chars = interp.layout.chars;
    let images = interp.images;
    Ok(PageOut {
        blocks: interp.layout.finish(),
        chars,
        images,
    })
}

/// The page's `/Resources`, inherited from the page tree when the page has none.
fn inherited_resources<'a>(doc: &'a PdfDoc, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..64 {
        if let Some(Object::Dictionary(r)) = deref(doc, node.get(b"Resources").ok()) {
            return Some(r);
        }
        match deref(doc, node.get(b"Parent").ok()) {
            Some(Object::Dictionary(parent)) => node = parent,
            _ => return None,
        }
    }
    None
}

/// The visible area of a page: its crop box (else media box), inherited from the page tree.
/// Text outside it is not shown by viewers and not extracted.
fn page_box(doc: &PdfDoc, page: &Dictionary) -> Option<[f32; 4]> {
    let inherited = |key: &[u8]| {
        let mut node = page;
        for _ in 0..64 {
            if let Some(r) = rect_of(doc, node.get(key).ok()) {
                return Some(r);
            }
            match deref(doc, node.get(b"Parent").ok()) {
                Some(Object::Dictionary(parent)) => node = parent,
                _ => return None,
            }
        }
        None
    };
    let media = inherited(b"MediaBox");
    match (inherited(b"CropBox"), media) {
        (Some(c), Some(m)) => Some([
            c[0].max(m[0]),
            c[1].max(m[1]),
            c[2].min(m[2]),
            c[3].min(m[3]),
        ])
        .filter(|r| r[0] < r[2] && r[1] < r[3])
        .or(Some(m)),
        (c, m) => c.or(m),
    }
}

/// The content streams of a page (`/Contents` is a stream or an array of them).
fn page_contents<'a>(doc: &'a PdfDoc, page: &'a Dictionary) -> Vec<&'a lopdf::Stream> {
    match deref(doc, page.get(b"Contents").ok()) {
        Some(Object::Stream(s)) => vec![s],
        Some(Object::Array(items)) => items
            .iter()
            .filter_map(|o| match deref(doc, Some(o)) {
                Some(Object::Stream(s)) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

struct Interp<'c, 'd> {
    ctx: &'c Ctx<'d>,
    doc: &'d PdfDoc,
    gs: GState,
    stack: Vec<GState>,
    tm: Mat,
    tlm: Mat,
    layout: Layout,
    images: usize,
    /// Fonts met on this page: (resource dictionary address, name, font).
    fonts: Vec<(usize, Vec<u8>, Arc<Font>)>,
    /// Form XObjects being run (to refuse a form that draws itself).
    forms: Vec<ObjectId>,
    scratch: String,
    /// Reused buffer for decoding hexadecimal strings.
    hexbuf: Vec<u8>,
    ticks: u32,
    /// Open marked-content sections (`BMC`/`BDC` without their `EMC` yet).
    marked: usize,
    actual: Option<Actual>,
}

fn num(op: Option<&Operand<'_>>) -> f32 {
    match op {
        Some(Operand::Tok(Tok::Num(n))) if n.is_finite() => *n,
        _ => 0.0,
    }
}

impl<'d> Interp<'_, 'd> {
    fn run(&mut self, data: &[u8], resources: Option<&'d Dictionary>) -> Result<()> {
        let mut lexer = Lexer::raw_hex(data);
        let mut operands: Vec<Operand<'_>> = Vec::new();
        // Arrays (one per `TJ`) are recycled instead of allocated each time.
        let mut pool: Vec<Vec<Tok<'_>>> = Vec::new();
        while let Some(tok) = lexer.next() {
            self.ticks += 1;
            if self.ticks >= CHECK_EVERY {
                self.ticks = 0;
                self.ctx.check()?;
            }
            match tok {
                Tok::Op(op) => {
                    if op == b"BI" {
                        // Inline image: skip its parameters and data.
                        for t in lexer.by_ref() {
                            if t == Tok::Op(b"ID") {
                                break;
                            }
                        }
                        lexer.skip_inline_image();
                        self.images += 1;
                    } else {
                        self.op(op, &operands, resources)?;
                    }
                    for o in operands.drain(..) {
                        if let Operand::Array(mut v) = o {
                            v.clear();
                            pool.push(v);
                        }
                    }
                }
                Tok::ArrayStart => {
                    let mut items = pool.pop().unwrap_or_default();
                    let mut depth = 1usize;
                    for t in lexer.by_ref() {
                        match t {
                            Tok::ArrayStart => depth += 1,
                            Tok::ArrayEnd => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            // An operator inside an array means a broken array: stop there.
                            Tok::Op(_) => break,
                            t if depth == 1 && items.len() < MAX_OPERANDS => items.push(t),
                            _ => {}
                        }
                    }
                    operands.push(Operand::Array(items));
                }
                Tok::DictStart => {
                    // Marked-content properties: keep the `/ActualText`, skip the rest.
                    let mut depth = 1usize;
                    let mut key_is_actual = false;
                    let mut actual = None;
                    for t in lexer.by_ref() {
                        match t {
                            Tok::DictStart => depth += 1,
                            Tok::DictEnd => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Tok::Str(s) if depth == 1 && key_is_actual => {
                                actual = Some(s.into_owned());
                            }
                            Tok::Hex(h) if depth == 1 && key_is_actual => {
                                actual = Some(decode_hex(h));
                            }
                            Tok::Name(n) if depth == 1 => {
                                key_is_actual = n.as_ref() == b"ActualText";
                                continue;
                            }
                            _ => {}
                        }
                        key_is_actual = false;
                    }
                    operands.push(Operand::Props(actual));
                }
                t => {
                    if operands.len() >= MAX_OPERANDS {
                        operands.clear();
                    }
                    operands.push(Operand::Tok(t));
                }
            }
        }
        Ok(())
    }

    fn op(
        &mut self,
        op: &[u8],
        args: &[Operand<'_>],
        resources: Option<&'d Dictionary>,
    ) -> Result<()> {
        let a = |i: usize| num(args.get(i));
        // Operands are taken from the end, as PDF readers do when there are extras.
        let last =
            |n: usize, i: usize| num(args.len().checked_sub(n).and_then(|s| args.get(s + i)));
        match op {
            b"q" => {
                if self.stack.len() >= self.ctx.limits.max_nesting {
                    return Err(Error::rejected(
                        Reason::Malformed,
                        format!(
                            "graphics states nested deeper than {} levels",
                            self.ctx.limits.max_nesting
                        ),
                    ));
                }
                self.stack.push(self.gs.clone());
            }
            b"Q" => {
                if let Some(gs) = self.stack.pop() {
                    self.gs = gs;
                }
            }
            b"cm" => {
                let v: [f32; 6] = std::array::from_fn(|i| last(6, i));
                if let Some(m) = Mat::from_slice(&v) {
                    self.gs.ctm = m.mul(&self.gs.ctm);
                }
            }
            b"BT" => {
                self.tm = Mat::IDENTITY;
                self.tlm = Mat::IDENTITY;
            }
            b"Tf" => {
                let name = args.iter().rev().find_map(|o| match o {
                    Operand::Tok(Tok::Name(n)) => Some(n.as_ref()),
                    _ => None,
                });
                self.gs.size = last(1, 0);
                self.gs.font = Some(match name {
                    Some(n) => self.font(n, resources)?,
                    None => Arc::new(Font::fallback()),
                });
            }
            b"Tc" => self.gs.char_space = last(1, 0),
            b"Tw" => self.gs.word_space = last(1, 0),
            b"Tz" => self.gs.hscale = last(1, 0) / 100.0,
            b"TL" => self.gs.leading = last(1, 0),
            b"Td" => self.move_line(last(2, 0), last(2, 1)),
            b"TD" => {
                self.gs.leading = -last(2, 1);
                self.move_line(last(2, 0), last(2, 1));
            }
            b"Tm" => {
                let v: [f32; 6] = std::array::from_fn(|i| last(6, i));
                if let Some(m) = Mat::from_slice(&v) {
                    self.tm = m;
                    self.tlm = m;
                }
            }
            b"T*" => self.move_line(0.0, -self.gs.leading),
            b"Tj" => {
                if let Some(Operand::Tok(t)) = args.last() {
                    self.show_tok(t);
                }
            }
            b"'" => {
                self.move_line(0.0, -self.gs.leading);
                if let Some(Operand::Tok(t)) = args.last() {
                    self.show_tok(t);
                }
            }
            b"\"" => {
                if args.len() >= 3 {
                    self.gs.word_space = a(args.len() - 3);
                    self.gs.char_space = a(args.len() - 2);
                }
                self.move_line(0.0, -self.gs.leading);
                if let Some(Operand::Tok(t)) = args.last() {
                    self.show_tok(t);
                }
            }
            b"TJ" => {
                if let Some(Operand::Array(items)) = args.last() {
                    for item in items {
                        match item {
                            Tok::Num(n) if n.is_finite() => self.adjust(*n),
                            t => self.show_tok(t),
                        }
                    }
                }
            }
            b"Do" => {
                if let Some(Operand::Tok(Tok::Name(n))) = args.last() {
                    self.xobject(n, resources)?;
                }
            }
            b"BMC" => self.marked += 1,
            b"BDC" => {
                self.marked += 1;
                if self.actual.is_none() {
                    let text = match args.last() {
                        Some(Operand::Props(Some(t))) => Some(t.clone()),
                        Some(Operand::Tok(Tok::Name(n))) => self.property_actual_text(n, resources),
                        _ => None,
                    };
                    if let Some(text) = text {
                        self.actual = Some(Actual {
                            text: super::encoding::decode_text_string(&text),
                            depth: self.marked,
                            emitted: false,
                        });
                    }
                }
            }
            b"EMC" => {
                if self.actual.as_ref().is_some_and(|a| a.depth == self.marked) {
                    self.actual = None;
                }
                self.marked = self.marked.saturating_sub(1);
            }
            _ => {}
        }
        Ok(())
    }

    /// The `/ActualText` of a named marked-content property list (`/Properties` resource).
    fn property_actual_text(
        &self,
        name: &[u8],
        resources: Option<&'d Dictionary>,
    ) -> Option<Vec<u8>> {
        let props = match deref(self.doc, resources?.get(b"Properties").ok())? {
            Object::Dictionary(p) => p,
            _ => return None,
        };
        match deref(self.doc, props.get(name).ok())? {
            Object::Dictionary(d) => match deref(self.doc, d.get(b"ActualText").ok())? {
                Object::String(s, _) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    fn move_line(&mut self, tx: f32, ty: f32) {
        self.tlm = Mat::translate(tx, ty).mul(&self.tlm);
        self.tm = self.tlm;
    }

    /// A number in a `TJ` array: moves the pen back by `n` thousandths of an em.
    fn adjust(&mut self, n: f32) {
        let font_vertical = self.gs.font.as_ref().is_some_and(|f| f.vertical);
        let d = -n / 1000.0 * self.gs.size;
        if font_vertical {
            self.tm = Mat::translate(0.0, d).mul(&self.tm);
        } else {
            self.tm = Mat::translate(d * self.gs.hscale, 0.0).mul(&self.tm);
        }
        if n < TJ_SPACE {
            self.layout.word_break();
        }
    }

    /// Shows a string token (literal or hexadecimal); other tokens show nothing.
    fn show_tok(&mut self, tok: &Tok<'_>) {
        match tok {
            Tok::Str(s) => self.show(s),
            Tok::Hex(h) => {
                let mut buf = std::mem::take(&mut self.hexbuf);
                decode_hex_into(h, &mut buf);
                self.show(&buf);
                self.hexbuf = buf;
            }
            _ => {}
        }
    }

    /// Shows a string: every glyph goes to the layout and advances the text matrix.
    fn show(&mut self, bytes: &[u8]) {
        let font = match &self.gs.font {
            Some(f) => Arc::clone(f),
            None => Arc::new(Font::fallback()),
        };
        let gs = &self.gs;
        let (size, tc, tw, th) = (gs.size, gs.char_space, gs.word_space, gs.hscale);
        let mut m = self.tm.mul(&gs.ctm);
        // The device-space size of an em: the font size along the transformed y axis.
        let scale_y = (m.0[2] * m.0[2] + m.0[3] * m.0[3]).sqrt();
        let dev_size = (size * font.em).abs() * scale_y;
        // The direction glyphs advance in, in device space (the same for the whole string).
        let (ux, uy) = if font.vertical {
            (-m.0[2], -m.0[3])
        } else {
            (m.0[0] * th, m.0[1] * th)
        };
        let ulen = (ux * ux + uy * uy).sqrt();
        let dir = if ulen > 1e-6 && ulen.is_finite() {
            (ux / ulen, uy / ulen)
        } else {
            (1.0, 0.0)
        };
        let mut tm = self.tm;
        let layout = &mut self.layout;
        let mut actual = self.actual.as_mut();
        let mut scratch = std::mem::take(&mut self.scratch);
        font.decode(bytes, &mut scratch, |g: Glyph<'_>| {
            let spacing = tc + if g.word_space { tw } else { 0.0 };
            let start = (m.0[4], m.0[5]);
            let (dx, dy) = if font.vertical {
                (0.0, -(size + spacing))
            } else {
                ((g.width * size + spacing) * th, 0.0)
            };
            // Translate the text matrix by (dx, dy) in text space: T × tm, and likewise the
            // combined matrix, whose translation moves by the same vector mapped through it.
            tm.0[4] += dx * tm.0[0] + dy * tm.0[2];
            tm.0[5] += dx * tm.0[1] + dy * tm.0[3];
            m.0[4] += dx * m.0[0] + dy * m.0[2];
            m.0[5] += dx * m.0[1] + dy * m.0[3];
            // Inside an ActualText span the span's text stands for all its glyphs.
            let text = match actual.as_deref_mut() {
                Some(a) if a.emitted => "",
                Some(a) => {
                    a.emitted = true;
                    a.text.as_str()
                }
                None => g.text,
            };
            layout.glyph(
                text,
                GlyphBox {
                    start,
                    end: (m.0[4], m.0[5]),
                    dir,
                    size: dev_size,
                    bold: font.bold,
                },
            );
        });
        self.scratch = scratch;
        if tm.0.iter().all(|v| v.is_finite()) {
            self.tm = tm;
        }
    }

    /// The font called `name` in `resources`, from the page's list, the document's cache, or
    /// built now.
    fn font(&mut self, name: &[u8], resources: Option<&'d Dictionary>) -> Result<Arc<Font>> {
        let key = resources.map_or(0, |r| r as *const Dictionary as usize);
        if let Some((_, _, f)) = self
            .fonts
            .iter()
            .find(|(k, n, _)| *k == key && n.as_slice() == name)
        {
            return Ok(Arc::clone(f));
        }
        let entry = resources.and_then(|r| match deref(self.doc, r.get(b"Font").ok()) {
            Some(Object::Dictionary(fonts)) => fonts.get(name).ok(),
            _ => None,
        });
        let font = match entry {
            Some(Object::Reference(id)) => match self.doc.get_dictionary(*id) {
                Ok(dict) => self.ctx.font(*id, dict)?,
                Err(_) => Arc::new(Font::fallback()),
            },
            Some(Object::Dictionary(dict)) => Arc::new(Font::load(self.ctx, self.doc, dict)?),
            _ => {
                tracing::debug!(font = %String::from_utf8_lossy(name), "font not in resources");
                Arc::new(Font::fallback())
            }
        };
        self.fonts.push((key, name.to_vec(), Arc::clone(&font)));
        Ok(font)
    }

    /// `Do`: an image is counted; a form's content runs with its matrix and resources.
    fn xobject(&mut self, name: &[u8], resources: Option<&'d Dictionary>) -> Result<()> {
        let doc = self.doc;
        let Some(entry) = resources.and_then(|r| match deref(doc, r.get(b"XObject").ok()) {
            Some(Object::Dictionary(x)) => x.get(name).ok(),
            _ => None,
        }) else {
            return Ok(());
        };
        let id = entry.as_reference().ok();
        let Some(Object::Stream(stream)) = deref(doc, Some(entry)) else {
            return Ok(());
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => {
                self.images += 1;
                Ok(())
            }
            Ok(b"Form") => self.run_form(stream, id, Mat::IDENTITY, resources),
            _ => Ok(()),
        }
    }

    /// Runs a Form XObject (or an annotation's appearance): its content with its own
    /// resources (else the caller's), its `/Matrix` then `extra` applied on top of the CTM,
    /// and the graphics state restored afterwards.
    fn run_form(
        &mut self,
        stream: &'d lopdf::Stream,
        id: Option<ObjectId>,
        extra: Mat,
        resources: Option<&'d Dictionary>,
    ) -> Result<()> {
        let doc = self.doc;
        if let Some(id) = id {
            if self.forms.contains(&id) {
                tracing::debug!(?id, "form xobject draws itself; skipped");
                return Ok(());
            }
        }
        if self.forms.len() >= self.ctx.limits.max_form_depth {
            return Err(Error::rejected(
                Reason::Malformed,
                format!(
                    "form xobjects nested deeper than {} levels",
                    self.ctx.limits.max_form_depth
                ),
            ));
        }
        let form_resources = match deref(doc, stream.dict.get(b"Resources").ok()) {
            Some(Object::Dictionary(r)) => Some(r),
            _ => resources,
        };
        let matrix = matrix_of(doc, stream.dict.get(b"Matrix").ok()).unwrap_or(Mat::IDENTITY);
        let data = self.ctx.stream_bytes(stream)?;
        let saved = (self.gs.clone(), self.tm, self.tlm, self.stack.len());
        self.gs.ctm = matrix.mul(&extra).mul(&self.gs.ctm);
        self.forms.push(id.unwrap_or((0, 0)));
        let r = self.run(&data, form_resources);
        self.forms.pop();
        self.stack.truncate(saved.3);
        (self.gs, self.tm, self.tlm) = (saved.0, saved.1, saved.2);
        r
    }

    /// Draws an annotation's normal appearance (form field values, stamps, free text), as
    /// viewers and pdftotext do; hidden and no-view annotations and popups are skipped.
    fn annotation(
        &mut self,
        annot: &'d Dictionary,
        resources: Option<&'d Dictionary>,
    ) -> Result<()> {
        let doc = self.doc;
        let flags = deref(doc, annot.get(b"F").ok())
            .and_then(|o| o.as_i64().ok())
            .unwrap_or(0);
        if flags & (2 | 32) != 0
            || annot.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Popup")
        {
            return Ok(());
        }
        let Some(Object::Dictionary(ap)) = deref(doc, annot.get(b"AP").ok()) else {
            return Ok(());
        };
        let normal = ap.get(b"N").ok();
        let (stream, id) = match deref(doc, normal) {
            Some(Object::Stream(s)) => (s, normal.and_then(|o| o.as_reference().ok())),
            Some(Object::Dictionary(states)) => {
                let Ok(state) = annot.get(b"AS").and_then(Object::as_name) else {
                    return Ok(());
                };
                let entry = states.get(state).ok();
                match deref(doc, entry) {
                    Some(Object::Stream(s)) => (s, entry.and_then(|o| o.as_reference().ok())),
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        let (Some(rect), Some(bbox)) = (
            rect_of(doc, annot.get(b"Rect").ok()),
            rect_of(doc, stream.dict.get(b"BBox").ok()),
        ) else {
            return Ok(());
        };
        // Map the appearance's transformed bounding box onto the annotation's rectangle.
        let m = matrix_of(doc, stream.dict.get(b"Matrix").ok()).unwrap_or(Mat::IDENTITY);
        let corners = [
            (bbox[0], bbox[1]),
            (bbox[2], bbox[1]),
            (bbox[0], bbox[3]),
            (bbox[2], bbox[3]),
        ]
        .map(|(x, y)| {
            (
                x * m.0[0] + y * m.0[2] + m.0[4],
                x * m.0[1] + y * m.0[3] + m.0[5],
            )
        });
        let (x0, x1) = corners
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), c| (a.min(c.0), b.max(c.0)));
        let (y0, y1) = corners
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), c| (a.min(c.1), b.max(c.1)));
        let (w, h) = (x1 - x0, y1 - y0);
        if w.abs() < 1e-3 || h.abs() < 1e-3 {
            return Ok(());
        }
        let (sx, sy) = ((rect[2] - rect[0]) / w, (rect[3] - rect[1]) / h);
        let fit = Mat([sx, 0.0, 0.0, sy, rect[0] - x0 * sx, rect[1] - y0 * sy]);
        if !fit.0.iter().all(|v| v.is_finite()) {
            return Ok(());
        }
        self.run_form(stream, id, fit, resources)
    }
}

/// Decodes the digits of a hexadecimal string (whitespace ignored, an odd digit padded).
fn decode_hex_into(hex: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut hi: Option<u8> = None;
    for v in hex.iter().filter_map(|&b| hex_val(b)) {
        match hi.take() {
            Some(h) => out.push(h << 4 | v),
            None => hi = Some(v),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
}

fn decode_hex(hex: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    decode_hex_into(hex, &mut out);
    out
}

fn numbers(doc: &PdfDoc, obj: Option<&Object>) -> Option<Vec<f32>> {
    match deref(doc, obj)? {
        Object::Array(v) => v
            .iter()
            .map(|o| match deref(doc, Some(o))? {
                Object::Integer(i) => Some(*i as f32),
                Object::Real(r) => Some(*r),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn matrix_of(doc: &PdfDoc, obj: Option<&Object>) -> Option<Mat> {
    Mat::from_slice(&numbers(doc, obj)?)
}

/// A rectangle `[x0 y0 x1 y1]`, normalised so that x0 ≤ x1 and y0 ≤ y1.
fn rect_of(doc: &PdfDoc, obj: Option<&Object>) -> Option<[f32; 4]> {
    let v = numbers(doc, obj)?;
    let [a, b, c, d]: [f32; 4] = v.try_into().ok()?;
    [a, b, c, d]
        .iter()
        .all(|x| x.is_finite())
        .then_some([a.min(c), b.min(d), a.max(c), b.max(d)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_compose_like_pdf() {
        let t = Mat::translate(10.0, 20.0);
        let s = Mat([2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        // Translate then scale: the point (0,0) ends at (20, 40).
        assert_eq!(t.mul(&s).0[4..], [20.0, 40.0]);
        assert_eq!(s.mul(&t).0[4..], [10.0, 20.0]);
        assert_eq!(Mat::IDENTITY.mul(&t), t);
    }
}

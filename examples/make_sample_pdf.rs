//! Writes `sample-sources/brewing-guide.pdf`, the sample PDF of the demo and the benches:
//! `cargo run --example make_sample_pdf`.
//!
//! A four-page guide of a fictional roaster, set in Helvetica with lopdf's writer: headings,
//! paragraphs wrapped to the page width, numbered steps and a footer with page numbers. The
//! output is deterministic (no dates or random file IDs), so regenerating it changes nothing
//! unless the text or layout here changes.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use std::path::Path;

/// Helvetica widths of ASCII 32–126 in 1/1000 em (the standard font metrics).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Widths of the WinAnsi characters above ASCII that the text uses.
fn width(c: char) -> u16 {
    match c {
        ' '..='~' => HELVETICA[c as usize - 32],
        '–' => 556,
        '—' | '…' => 1000,
        '°' => 400,
        '•' => 350,
        '·' => 278,
        '’' | '‘' => 222,
        '“' | '”' => 333,
        'é' | 'á' => 556,
        _ => 556,
    }
}

fn text_width(s: &str, size: f32) -> f32 {
    s.chars().map(|c| f32::from(width(c))).sum::<f32>() * size / 1000.0
}

/// WinAnsiEncoding bytes of `s` (code page 1252).
fn win_ansi(s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(s);
    assert!(!unmappable, "text outside WinAnsiEncoding: {s}");
    bytes.into_owned()
}

enum El {
    Title(&'static str),
    Heading(&'static str),
    Para(&'static str),
    /// A numbered or bulleted item: its label and text.
    Item(&'static str, &'static str),
    PageBreak,
}

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const LEFT: f32 = 72.0;
const RIGHT: f32 = 540.0;
const TOP: f32 = 720.0;
const BOTTOM: f32 = 80.0;
const BODY: f32 = 11.0;
const LEADING: f32 = 15.0;
const PARA_SPACE: f32 = 8.0;

fn guide() -> Vec<El> {
    use El::*;
    vec![
        Title("Brisa Coffee Co. Brewing Guide & Equipment Care"),
        Para("Roasted in small batches in Miami, Florida. This guide covers our brewing equipment, a dependable pour-over recipe, and the care that keeps a kettle and a grinder working well for years."),
        Heading("About Brisa Coffee Co."),
        Para("Brisa Coffee Co. is a small coffee roaster in Miami. We roast twice a week, on Mondays and Thursdays, and ship every bag within 48 hours of roasting, so the beans you receive taste their best between one and four weeks after the roast date printed on the bag. Everything in this guide is what our own baristas use at the tasting bar."),
        Heading("Our brewing equipment"),
        Item("•", "BK-200 Brisa Pour-Over Kettle – US$89. A 1 litre gooseneck kettle with temperature control from 40–100 °C in one-degree steps. The narrow spout gives a steady, thin pour, and the hold function keeps the water at the set temperature for 30 minutes."),
        Item("•", "HG-50 Brisa Hand Grinder – US$69. A hand grinder with stainless steel conical burrs and 40 grind settings, from fine espresso to coarse French press. The hopper holds about 30 g of beans, enough for two cups."),
        Item("•", "DR-02 Ceramic Dripper – US$22. A glazed ceramic cone for size 2 paper filters. Ceramic holds heat well, so warm the dripper with hot water before brewing."),
        Heading("Choosing a grind setting"),
        Para("The HG-50 settings count from the finest (1) to the coarsest (40). Good starting points are 4–8 for espresso, 10–14 for AeroPress, 14–18 for pour-over, 30–36 for French press and 36–40 for cold brew. Every coffee is a little different, so taste and adjust."),
        PageBreak,
        Heading("Pour-over recipe"),
        Para("Our house recipe uses 15 g of coffee to 250 g of water at 94 °C, a ratio of about 1:16.7. It makes one generous cup and suits every coffee we roast, from the bright Ethiopian lots to the chocolatey Brazilian blend."),
        Item("1.", "Heat the water in the BK-200 to 94 °C. Place a paper filter in the DR-02, rinse it with hot water to warm the dripper and remove any paper taste, and discard the rinse water."),
        Item("2.", "Grind 15 g of coffee on setting 16 of the HG-50. The grounds should look like coarse sand."),
        Item("3.", "Add the coffee, level the bed with a gentle shake and start a timer. Pour 40 g of water to wet all the grounds and let the coffee bloom for 30 to 45 seconds while the gas escapes."),
        Item("4.", "Pour the rest of the water in slow spirals, keeping the level about two centimetres below the rim, until the scale reads 250 g."),
        Item("5.", "Let the water drain through. The whole brew should take between two and a half and three and a quarter minutes."),
        Heading("Adjusting the taste"),
        Para("If the cup tastes sour or thin, or the brew finishes in under two and a half minutes, grind two settings finer. If it tastes bitter or dry, or takes longer than three and a half minutes, grind two settings coarser. Change one thing at a time: the grind first, then the water temperature, which can range from 92 to 96 °C."),
        Heading("Water"),
        Para("Use filtered water with a low to moderate mineral content. Distilled or very soft water makes a flat cup, and hard water leaves scale in the kettle faster."),
        PageBreak,
        Heading("Descaling the BK-200 kettle"),
        Para("Minerals in tap water build up as white scale inside the kettle. Scale slows heating and can confuse the temperature sensor, so descale the kettle once a month with citric acid. With very hard water, descaling every two weeks keeps the heating element working best."),
        Item("1.", "Dissolve 2 tablespoons (about 25 g) of food-grade citric acid in 1 litre of warm water and pour the solution into the kettle."),
        Item("2.", "Set the kettle to 90 °C, let it reach temperature, then switch it off and let the solution stand for 20 minutes."),
        Item("3.", "Pour the solution out through the spout to clean the spout as well. Fill the kettle with clean water, bring it to a boil and discard it. Rinse this way twice."),
        Para("Do not use vinegar-based descalers on the BK-200: they can leave an odour in the lid seal. Never immerse the kettle or its power base in water."),
        Heading("Cleaning the HG-50 grinder"),
        Para("Brush the burrs with the included brush every few uses to remove oils and fine particles. Once a month, unscrew the adjustment ring, lift out the inner burr and brush both burrs clean. Do not wash the burrs with water, because moisture can make the steel rust. After reassembling, find your setting again by turning the ring fully clockwise to setting 1 and counting the clicks."),
        Heading("Caring for the DR-02 dripper"),
        Para("The DR-02 is dishwasher safe. Avoid pouring boiling water into a cold dripper in a cold room: warm it first so that it does not crack from thermal shock."),
        PageBreak,
        Heading("Two-year limited warranty"),
        Para("Brisa grinders and kettles, including the BK-200 and the HG-50, come with a 2-year limited warranty from the date of purchase. The warranty covers defects in materials and workmanship under normal household use. It does not cover damage from drops, misuse or commercial use, scale damage from skipped descaling, or the normal wear of burrs and lid seals. The DR-02 ceramic dripper is not covered against breakage."),
        Heading("Making a warranty claim"),
        Para("Email support@brisacoffee.example with your order number, the product code (for example BK-200) and a short description or video of the problem. We reply within two business days. If the product cannot be repaired, we send a replacement at no cost, including shipping within the United States."),
        Heading("Contact"),
        Para("Brisa Coffee Co., Miami, Florida. Customer support: support@brisacoffee.example or (305) 555-0142, Monday to Friday, 9 am to 5 pm Eastern Time."),
    ]
}

/// Splits `text` into lines no wider than `width` points at `size`.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Pages {
    pages: Vec<Vec<Operation>>,
    y: f32,
}

impl Pages {
    fn ops(&mut self) -> &mut Vec<Operation> {
        self.pages.last_mut().expect("a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    fn line(&mut self, font: &str, size: f32, x: f32, text: &str) {
        let y = self.y;
        self.ops().extend([
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec![font.into(), size.into()]),
            Operation::new("Td", vec![x.into(), y.into()]),
            Operation::new("Tj", vec![Object::string_literal(win_ansi(text))]),
            Operation::new("ET", vec![]),
        ]);
    }

    /// Makes room for `height` points, starting a page when the current one is full.
    fn need(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }
}

fn main() {
    let mut p = Pages {
        pages: Vec::new(),
        y: TOP,
    };
    p.new_page();
    for el in guide() {
        match el {
            El::Title(t) => {
                for line in wrap(t, 20.0, RIGHT - LEFT) {
                    p.line("F2", 20.0, LEFT, &line);
                    p.y -= 26.0;
                }
                p.y -= 10.0;
            }
            El::Heading(h) => {
                p.need(18.0 + 3.0 * LEADING);
                p.y -= 10.0;
                p.line("F2", 14.0, LEFT, h);
                p.y -= 20.0;
            }
            El::Para(t) => {
                let lines = wrap(t, BODY, RIGHT - LEFT);
                p.need(LEADING * 2.0);
                for line in lines {
                    p.need(LEADING);
                    p.line("F1", BODY, LEFT, &line);
                    p.y -= LEADING;
                }
                p.y -= PARA_SPACE;
            }
            El::Item(label, t) => {
                let indent = 18.0;
                let lines = wrap(t, BODY, RIGHT - LEFT - indent);
                p.need(LEADING * 2.0);
                p.line("F1", BODY, LEFT + 2.0, label);
                for line in lines {
                    p.need(LEADING);
                    p.line("F1", BODY, LEFT + indent, &line);
                    p.y -= LEADING;
                }
                p.y -= PARA_SPACE;
            }
            El::PageBreak => p.new_page(),
        }
    }

    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let widths: Vec<Object> = (32u8..=255)
        .map(|b| {
            let byte = [b];
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
            Object::Integer(i64::from(width(s.chars().next().unwrap_or(' '))))
        })
        .collect();
    let regular = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding", "FirstChar" => 32, "LastChar" => 255, "Widths" => widths,
    });
    let bold = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica-Bold",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => regular, "F2" => bold },
    });
    let count = p.pages.len();
    let mut kids = Vec::new();
    for (i, mut ops) in p.pages.into_iter().enumerate() {
        let footer = format!(
            "Brisa Coffee Co. · Brewing Guide & Equipment Care · Page {} of {count}",
            i + 1
        );
        let x = (PAGE_W - text_width(&footer, 8.0)) / 2.0;
        ops.extend([
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 8.into()]),
            Operation::new("Td", vec![x.into(), 40.into()]),
            Operation::new("Tj", vec![Object::string_literal(win_ansi(&footer))]),
            Operation::new("ET", vec![]),
        ]);
        let content = Content { operations: ops };
        let stream = Stream::new(dictionary! {}, content.encode().expect("encode content"));
        let content_id = doc.add_object(stream);
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count as i64, "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), PAGE_W.into(), PAGE_H.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let info = doc.add_object(dictionary! {
        "Title" => Object::string_literal("Brisa Coffee Co. Brewing Guide & Equipment Care"),
        "Author" => Object::string_literal("Brisa Coffee Co."),
        "Subject" => Object::string_literal("Brewing equipment, a pour-over recipe, equipment care and warranty"),
        "Producer" => Object::string_literal("lore examples/make_sample_pdf.rs (lopdf)"),
    });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    doc.compress();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-sources/brewing-guide.pdf");
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("write pdf");
    std::fs::write(&out, &bytes).expect("write sample-sources/brewing-guide.pdf");
    println!(
        "wrote {} ({count} pages, {} bytes)",
        out.display(),
        bytes.len()
    );
}

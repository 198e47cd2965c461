//! Writes the office-format samples of `sample-sources/` for the fictional Brisa Coffee Co.
//! (Miami): a price list workbook, the warranty terms as a Word document, and the product
//! catalog as CSV.
//!
//! `cargo run --example make_office_samples [-- <sample-sources folder>]`
//!
//! The files are committed; this program is how they were made, so they can be regenerated
//! when the fictional shop changes. The DOCX is written part by part with the zip crate (the
//! same way the parser reads it); the workbook with rust_xlsxwriter.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

struct Item {
    sku: &'static str,
    name: &'static str,
    description: &'static str,
    price: f64,
    stock: i64,
    grams: u32,
    available: (u16, u8, u8),
}

const COFFEE: &[Item] = &[
    Item {
        sku: "BR-ANDES-250",
        name: "Andes Sunrise",
        description: "Medium roast from small farms in Huila, Colombia. Caramel, red apple and \
                      cocoa. 250 g bag, whole bean or ground.",
        price: 16.0,
        stock: 120,
        grams: 250,
        available: (2026, 3, 1),
    },
    Item {
        sku: "BR-CERR-500",
        name: "Cerrado Dark",
        description: "Dark roast from the Cerrado plateaus of Minas Gerais, Brazil. Dark \
                      chocolate and toasted nuts; made for espresso and milk. 500 g bag.",
        price: 24.0,
        stock: 85,
        grams: 500,
        available: (2026, 3, 1),
    },
    Item {
        sku: "BR-VOLC-250",
        name: "Volcán Decaf",
        description: "Swiss Water Process decaf from Chiapas, Mexico: no chemical solvents. \
                      Brown sugar and milk chocolate. 250 g bag.",
        price: 17.0,
        stock: 40,
        grams: 250,
        available: (2026, 3, 15),
    },
    Item {
        sku: "BR-GEISHA-100",
        name: "Boquete Geisha",
        description: "Light roast Geisha from Boquete, Panama, with jasmine and bergamot. \
                      Limited seasonal lot, 100 g bag.",
        price: 38.0,
        stock: 0,
        grams: 100,
        available: (2026, 5, 1),
    },
];

const EQUIPMENT: &[Item] = &[
    Item {
        sku: "BK-200",
        name: "Brisa Pour-Over Kettle",
        description: "1-litre stainless-steel gooseneck kettle with temperature control from \
                      40 to 100 °C. 2-year limited warranty.",
        price: 89.0,
        stock: 14,
        grams: 1100,
        available: (2026, 2, 1),
    },
    Item {
        sku: "HG-50",
        name: "Brisa Hand Grinder",
        description: "Hand grinder with conical steel burrs and 40 grind settings, from \
                      espresso to French press. 2-year limited warranty.",
        price: 69.0,
        stock: 22,
        grams: 650,
        available: (2026, 2, 1),
    },
    Item {
        sku: "DR-02",
        name: "Ceramic Dripper",
        description: "Glazed ceramic cone dripper for one or two cups; holds heat for an even \
                      brew.",
        price: 22.0,
        stock: 35,
        grams: 400,
        available: (2026, 2, 15),
    },
];

fn main() -> AnyResult<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-sources"));
    std::fs::create_dir_all(dir.join("catalog"))?;
    write_price_list(&dir.join("price-list.xlsx"))?;
    write_warranty(&dir.join("warranty-terms.docx"))?;
    write_catalog(&dir.join("catalog").join("products.csv"))?;
    eprintln!("wrote the office samples in {}", dir.display());
    Ok(())
}

fn write_price_list(path: &Path) -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time keeps the file byte-identical across runs.
    let created = ExcelDateTime::from_ymd(2026, 3, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title("Brisa Coffee Co. price list")
            .set_author("Brisa Coffee Co.")
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold();
    let usd = Format::new().set_num_format("\"US$\"#,##0.00");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (sheet, items) in [("Coffee", COFFEE), ("Equipment", EQUIPMENT)] {
        let ws = wb.add_worksheet().set_name(sheet)?;
        let header = [
            "Code",
            "Product",
            "Price (USD)",
            "Weight (g)",
            "Available from",
        ];
        for (c, h) in header.iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, item) in items.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write(r, 0, item.sku)?;
            ws.write(r, 1, item.name)?;
            ws.write_with_format(r, 2, item.price, &usd)?;
            ws.write(r, 3, item.grams)?;
            let (y, m, d) = item.available;
            ws.write_datetime_with_format(r, 4, ExcelDateTime::from_ymd(y, m, d)?, &date)?;
        }
        ws.set_column_width(1, 26)?;
        ws.set_column_width(4, 14)?;
    }
    wb.save(path)
}

fn write_catalog(path: &Path) -> AnyResult<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "name",
        "description",
        "price",
        "currency",
        "stock",
        "link",
        "sku",
    ])?;
    for item in COFFEE.iter().chain(EQUIPMENT) {
        w.write_record([
            item.name.to_string(),
            item.description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            format!("{:.2}", item.price),
            "USD".to_string(),
            item.stock.to_string(),
            format!("https://brisacoffee.example/p/{}", item.sku),
            item.sku.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Escapes text for XML content.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One paragraph with an optional style; `text` may hold `{fn:N}` for a footnote reference.
fn para(style: Option<&str>, text: &str) -> String {
    let ppr = style.map_or(String::new(), |s| {
        format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)
    });
    let mut runs = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{fn:") {
        let (before, after) = rest.split_at(start);
        let end = after.find('}').unwrap_or(after.len() - 1);
        let id = &after[4..end];
        runs.push_str(&run(before));
        runs.push_str(&format!(
            r#"<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteReference w:id="{id}"/></w:r>"#
        ));
        rest = &after[end + 1..];
    }
    runs.push_str(&run(rest));
    format!("<w:p>{ppr}{runs}</w:p>")
}

fn run(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        r#"<w:r><w:t xml:space="preserve">{}</w:t></w:r>"#,
        esc(text)
    )
}

fn bullet(text: &str) -> String {
    format!(
        r#"<w:p><w:pPr><w:pStyle w:val="ListBullet"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>{}</w:p>"#,
        run(text)
    )
}

fn table(rows: &[[&str; 3]]) -> String {
    let mut out = String::from(
        r#"<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/><w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid><w:gridCol w:w="2600"/><w:gridCol w:w="2600"/><w:gridCol w:w="4000"/></w:tblGrid>"#,
    );
    for (i, row) in rows.iter().enumerate() {
        out.push_str("<w:tr>");
        if i == 0 {
            out.push_str("<w:trPr><w:tblHeader/></w:trPr>");
        }
        for cell in row {
            let text = if i == 0 {
                format!(
                    r#"<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>"#,
                    esc(cell)
                )
            } else {
                run(cell)
            };
            out.push_str(&format!(
                r#"<w:tc><w:tcPr><w:tcW w:w="0" w:type="auto"/></w:tcPr><w:p>{text}</w:p></w:tc>"#
            ));
        }
        out.push_str("</w:tr>");
    }
    out.push_str("</w:tbl>");
    out
}

const W_NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;

fn write_warranty(path: &Path) -> AnyResult<()> {
    let body = [
        para(Some("Title"), "Brisa Coffee Co. — Warranty Terms"),
        para(
            None,
            "These terms apply to brewing equipment bought from Brisa Coffee Co., 1450 NW 27th \
             Avenue, Miami, Florida, in our shop or at brisacoffee.example. They are in addition \
             to the rights you have under the law of your state or country.",
        ),
        para(Some("Heading1"), "What the warranty covers"),
        para(
            None,
            "The BK-200 Brisa Pour-Over Kettle and the HG-50 Brisa Hand Grinder carry a 2-year \
             limited warranty{fn:1} against defects in materials and workmanship. If a covered \
             product fails in normal household use, we will repair it, replace it with the same \
             model, or refund the price you paid, at our choice.",
        ),
        para(Some("Heading2"), "Covered products"),
        table(&[
            ["Product", "Warranty period", "Typical covered faults"],
            [
                "BK-200 Brisa Pour-Over Kettle",
                "2 years",
                "Heating element, temperature control, switch and base",
            ],
            [
                "HG-50 Brisa Hand Grinder",
                "2 years",
                "Burr assembly, grind adjustment, crank and bearings",
            ],
            [
                "DR-02 Ceramic Dripper",
                "Not covered",
                "Ceramic can break; it has the 30-day return window only",
            ],
        ]),
        para(Some("Heading1"), "What the warranty does not cover"),
        bullet("Damage from drops, knocks or a cracked housing after delivery."),
        bullet("Scale build-up or a failed element when the kettle was not descaled regularly."),
        bullet("Commercial use, such as in a café, office kitchen or market stall."),
        bullet("Repairs or modifications made by anyone other than Brisa Coffee Co."),
        bullet("Normal wear of the grinder's burrs after heavy use, and cosmetic marks."),
        para(Some("Heading1"), "How to make a claim"),
        para(
            None,
            "Write to support@brisacoffee.example with your order number, the product code \
             (BK-200 or HG-50) and a short video or photo that shows the problem. We answer \
             within two business days. If we ask you to send the product back, we pay for the \
             shipping label within the United States{fn:2}.",
        ),
        para(
            None,
            "Keep your order confirmation: it is your proof of purchase. A product repaired or \
             replaced under warranty is covered for the rest of the original 2-year period.",
        ),
    ]
    .concat();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W_NS}><w:body>{body}<w:sectPr><w:pgSz w:w="12240" w:h="15840"/><w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="720" w:footer="720" w:gutter="0"/></w:sectPr></w:body></w:document>"#
    );
    let footnotes = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:footnotes {W_NS}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote><w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote><w:footnote w:id="1"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr><w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteRef/></w:r>{}</w:p></w:footnote><w:footnote w:id="2"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr><w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteRef/></w:r>{}</w:p></w:footnote></w:footnotes>"#,
        run(" The two years start on the date of delivery shown in your order confirmation."),
        run(
            " Outside the United States we refund return shipping up to US$25 once the fault \
             is confirmed."
        ),
    );
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles {W_NS}>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:rPr><w:sz w:val="48"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="32"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:outlineLvl w:val="1"/></w:pPr><w:rPr><w:b/><w:sz w:val="26"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/><w:basedOn w:val="Normal"/><w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="FootnoteText"><w:name w:val="footnote text"/><w:basedOn w:val="Normal"/><w:rPr><w:sz w:val="18"/></w:rPr></w:style>
<w:style w:type="character" w:styleId="FootnoteReference"><w:name w:val="footnote reference"/><w:rPr><w:vertAlign w:val="superscript"/></w:rPr></w:style>
<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:tblPr><w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:left w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:right w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:insideH w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:insideV w:val="single" w:sz="4" w:space="0" w:color="auto"/></w:tblBorders></w:tblPr></w:style>
</w:styles>"#
    );
    let numbering = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:numbering {W_NS}><w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="singleLevel"/><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/><w:lvlJc w:val="left"/><w:pPr><w:ind w:left="720" w:hanging="360"/></w:pPr></w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>"#
    );
    let content_types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/><Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;
    let document_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/></Relationships>"#;
    let core = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>Warranty Terms</dc:title><dc:creator>Brisa Coffee Co.</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">2026-03-01T00:00:00Z</dcterms:created></cp:coreProperties>"#;
    let parts: [(&str, &str); 8] = [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", rels),
        ("docProps/core.xml", core),
        ("word/document.xml", &document),
        ("word/_rels/document.xml.rels", document_rels),
        ("word/styles.xml", &styles),
        ("word/numbering.xml", &numbering),
        ("word/footnotes.xml", &footnotes),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    // A fixed timestamp keeps the file byte-identical across runs.
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::from_date_and_time(2026, 3, 1, 0, 0, 0)?);
    for (name, content) in parts {
        zip.start_file(name, opts)?;
        zip.write_all(content.as_bytes())?;
    }
    zip.finish()?;
    Ok(())
}

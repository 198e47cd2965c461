//! Product catalogs: a spreadsheet, CSV or JSON export of a shop's products turned into
//! [`Product`] records, and those records into one searchable block per product.
//!
//! Catalogs come from shop back-ends, hand-kept spreadsheets and marketplace exports, in
//! English, Spanish and Portuguese, so nothing is assumed about column names or number
//! formats: columns are recognised by synonyms (accents and case ignored: `Preço`, `precio`,
//! `Price (USD)`), prices by their shape (`US$ 1.299,90`, `89.00 USD`, `R$ 45,50`), and the
//! currency is inferred from a symbol or code when there is no currency column. Columns that
//! are none of the known fields are kept as `extra` so that nothing the shop wrote is lost.

use super::deadline::Deadline;
use super::decode::decode_text;
use super::sheet::{self, CellKind, Row, SheetRows};
use super::{detect, Block, BlockKind, Document, Format, Location};
use crate::error::{Error, Reason, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rows at the top of a sheet searched for the header row (titles may come first).
const HEADER_SEARCH_ROWS: usize = 5;

/// Keys of a JSON object that may hold the product array.
const JSON_LIST_KEYS: &[&str] = &["products", "items", "productos", "produtos", "data"];

/// One product of a catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub name: String,
    /// Empty when the catalog has none.
    pub description: String,
    pub price: Option<f64>,
    /// ISO 4217 code when recognised (`USD`, `BRL`), else the catalog's own text.
    pub currency: Option<String>,
    pub stock: Option<i64>,
    pub link: Option<String>,
    pub sku: Option<String>,
    /// Other columns, as `(column name, value)`, in column order (JSON: key order).
    pub extra: Vec<(String, String)>,
    /// Where the product is in its source: the 1-based spreadsheet row, or the 1-based
    /// position in a JSON array; what a citation points at.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub row: Option<u32>,
}

/// A known product field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Description,
    Price,
    Currency,
    Stock,
    Link,
    Sku,
}

/// Synonyms, folded (lower case, no accents), checked in this order so that the specific
/// field wins over the generic one ("Product code" is a SKU, "Product description" a
/// description, "Price currency" a currency).
const SYNONYMS: &[(Field, &[&str])] = &[
    (Field::Currency, &["currency", "moneda", "moeda", "divisa"]),
    (
        Field::Sku,
        &[
            "sku",
            "code",
            "codigo",
            "cod",
            "ref",
            "referencia",
            "reference",
        ],
    ),
    (
        Field::Link,
        &[
            "link", "url", "enlace", "pagina", "page", "href", "website", "web",
        ],
    ),
    (
        Field::Stock,
        &[
            "stock",
            "quantity",
            "qty",
            "inventory",
            "inventario",
            "existencias",
            "existencia",
            "cantidad",
            "estoque",
            "quantidade",
        ],
    ),
    (
        Field::Price,
        &[
            "price", "precio", "preco", "valor", "cost", "costo", "custo", "pvp", "importe",
        ],
    ),
    (
        Field::Description,
        &[
            "description",
            "descripcion",
            "descricao",
            "details",
            "detalles",
            "detalhes",
            "desc",
            "summary",
            "resumen",
            "resumo",
        ],
    ),
    (Field::Name, &["name", "nombre", "nome", "title", "titulo"]),
];

/// Words that name the product only when nothing more specific is in the header.
const WEAK_NAME: &[&str] = &[
    "product", "producto", "produto", "item", "articulo", "artigo",
];

/// Words that make a URL column an image rather than the product's page.
const IMAGE_WORDS: &[&str] = &["image", "imagen", "imagem", "foto", "photo", "picture"];

/// Parses a catalog in CSV, a spreadsheet (the first sheet with a name column) or JSON (an
/// array of objects, or an object with a `products`/`items` array).
///
/// Errors: [`Reason::Malformed`] when no name column exists (the message lists the columns
/// found) or the JSON is not a product list; the spreadsheet and text errors of the format.
pub fn parse_catalog(
    bytes: &[u8],
    file_name: Option<&str>,
    deadline: Deadline,
) -> Result<Vec<Product>> {
    let start = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .iter()
        .find(|b| !b.is_ascii_whitespace());
    if matches!(start, Some(b'[' | b'{')) {
        return parse_json(bytes);
    }
    let format = detect(bytes, file_name).or_else(|e| match e.reason() {
        // A catalog is tabular whatever the sniffer thinks of a tiny or one-column file.
        Some(Reason::UnsupportedFormat | Reason::Corrupted | Reason::PasswordProtected) => Err(e),
        _ => Ok(Format::Csv),
    })?;
    let sheets = match format {
        Format::Xlsx | Format::Xls | Format::Xlsb | Format::Ods => {
            sheet::read_workbook(bytes, format, deadline)?.0
        }
        Format::Csv | Format::Text | Format::Markdown => {
            let decoded = decode_text(bytes)?;
            vec![sheet::csv_rows(&decoded.text, "Sheet1", deadline)?]
        }
        other => {
            return Err(Error::rejected(
                Reason::UnsupportedFormat,
                format!("a product catalog must be csv, a spreadsheet or json, not {other}"),
            ))
        }
    };
    from_sheets(&sheets)
}

fn from_sheets(sheets: &[SheetRows]) -> Result<Vec<Product>> {
    let mut first_columns: Option<Vec<String>> = None;
    for sheet in sheets {
        match from_rows(&sheet.rows) {
            Ok(products) => return Ok(products),
            Err(columns) => {
                if first_columns.is_none() && !columns.is_empty() {
                    first_columns = Some(columns);
                }
            }
        }
    }
    let Some(columns) = first_columns else {
        return Err(Error::rejected(Reason::Empty, "catalog contains no rows"));
    };
    Err(no_name_column(&columns))
}

fn no_name_column(columns: &[String]) -> Error {
    Error::rejected(
        Reason::Malformed,
        format!(
            "catalog has no product name column (found: {})",
            columns.join(", ")
        ),
    )
}

/// Column positions of the known fields.
#[derive(Debug, Default)]
struct Columns {
    fields: Vec<(Field, u32)>,
    /// A currency named in the price header (`Price (USD)`), used when the row has none.
    header_currency: Option<String>,
}

impl Columns {
    fn of(field: Field, cols: &[(Field, u32)]) -> Option<u32> {
        cols.iter().find(|(f, _)| *f == field).map(|(_, c)| *c)
    }

    fn get(&self, field: Field) -> Option<u32> {
        Self::of(field, &self.fields)
    }
}

/// Maps header texts to fields; the first column of a field wins, later ones are extras.
fn map_columns<'a>(headers: impl Iterator<Item = (u32, &'a str)>) -> Columns {
    let mut out = Columns::default();
    for (col, header) in headers {
        let Some(field) = classify(header) else {
            continue;
        };
        if out.get(field).is_none() {
            out.fields.push((field, col));
            if field == Field::Price && out.header_currency.is_none() {
                out.header_currency = currency_code_in(header);
            }
        }
    }
    out
}

/// Products from a sheet's rows, or the sheet's column names when it has no name column.
fn from_rows(rows: &[Row]) -> std::result::Result<Vec<Product>, Vec<String>> {
    let found = rows
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .enumerate()
        .find_map(|(i, row)| {
            let cols = map_columns(row.cells.iter().map(|c| (c.col, c.text.as_str())));
            cols.get(Field::Name).map(|_| (i, cols))
        });
    let Some((header_index, cols)) = found else {
        return Err(rows
            .first()
            .map(|r| r.cells.iter().map(|c| c.text.clone()).collect())
            .unwrap_or_default());
    };
    let header = &rows[header_index];
    let header_name = |col: u32| {
        header.get(col).map_or_else(
            || format!("Column {}", sheet::column_letter(col)),
            |c| c.text.clone(),
        )
    };
    let mut products = Vec::new();
    for row in &rows[header_index + 1..] {
        let text = |field: Field| {
            cols.get(field)
                .and_then(|c| row.get(c))
                .map(|c| c.text.clone())
        };
        let Some(name) = text(Field::Name) else {
            continue;
        };
        let mut p = Product {
            name,
            description: text(Field::Description).unwrap_or_default(),
            link: text(Field::Link),
            sku: text(Field::Sku),
            row: Some(row.number),
            ..Product::default()
        };
        let mut price_currency = None;
        if let Some(cell) = cols.get(Field::Price).and_then(|c| row.get(c)) {
            match (cell.kind, cell.number) {
                (CellKind::Number, Some(n)) => {
                    p.price = Some(n);
                    // A CSV number may carry its currency: `$89`.
                    price_currency = parse_price(&cell.text).1;
                }
                _ => {
                    let (price, currency) = parse_price(&cell.text);
                    p.price = price;
                    price_currency = currency;
                    if price.is_none() {
                        p.extra.push((header_name(cell.col), cell.text.clone()));
                    }
                }
            }
        }
        p.currency = text(Field::Currency)
            .map(|c| normalize_currency(&c))
            .or(price_currency)
            .or_else(|| cols.header_currency.clone());
        if let Some(cell) = cols.get(Field::Stock).and_then(|c| row.get(c)) {
            p.stock = match (cell.kind, cell.number) {
                (CellKind::Number, Some(n)) if n.is_finite() => Some(n.round() as i64),
                _ => parse_stock(&cell.text),
            };
            if p.stock.is_none() {
                p.extra.push((header_name(cell.col), cell.text.clone()));
            }
        }
        for cell in &row.cells {
            if !cols.fields.iter().any(|(_, c)| *c == cell.col) {
                p.extra.push((header_name(cell.col), cell.text.clone()));
            }
        }
        products.push(p);
    }
    Ok(products)
}

fn parse_json(bytes: &[u8]) -> Result<Vec<Product>> {
    let decoded = decode_text(bytes)?;
    let value: Value = serde_json::from_str(&decoded.text).map_err(|e| {
        Error::rejected(Reason::Malformed, format!("catalog json is not valid: {e}"))
    })?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => map
            .iter()
            .find(|(k, v)| {
                JSON_LIST_KEYS.contains(&fold(k).as_str()) && matches!(v, Value::Array(_))
            })
            .and_then(|(_, v)| v.as_array())
            .ok_or_else(|| {
                Error::rejected(
                    Reason::Malformed,
                    format!(
                        "catalog json has no products or items array (keys: {})",
                        map.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
        _ => {
            return Err(Error::rejected(
                Reason::Malformed,
                "catalog json must be an array of products or an object with a products array",
            ))
        }
    };
    let mut products = Vec::new();
    let mut keys_seen: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            continue;
        };
        for k in obj.keys() {
            if !keys_seen.contains(k) {
                keys_seen.push(k.clone());
            }
        }
        let cols = map_columns(obj.keys().enumerate().map(|(j, k)| (j as u32, k.as_str())));
        let field_of = |j: usize| {
            cols.fields
                .iter()
                .find(|(_, c)| *c as usize == j)
                .map(|(f, _)| *f)
        };
        let mut p = Product {
            row: u32::try_from(i + 1).ok(),
            ..Product::default()
        };
        let mut price_currency = None;
        for (j, (key, v)) in obj.iter().enumerate() {
            match (field_of(j), v) {
                (_, Value::Null) => {}
                (Some(Field::Price), Value::Number(n)) => p.price = n.as_f64(),
                (Some(Field::Price), Value::Object(o)) => {
                    // {"amount": 16, "currency": "USD"}
                    for (k, v) in o {
                        match (fold(k).as_str(), v) {
                            ("amount" | "value" | "valor" | "monto", Value::Number(n)) => {
                                p.price = n.as_f64()
                            }
                            ("amount" | "value" | "valor" | "monto", Value::String(s)) => {
                                let (price, cur) = parse_price(s);
                                p.price = price;
                                price_currency = price_currency.or(cur);
                            }
                            ("currency" | "moneda" | "moeda", Value::String(s)) => {
                                price_currency = Some(normalize_currency(s))
                            }
                            _ => {}
                        }
                    }
                }
                (Some(Field::Price), v) => {
                    let s = json_text(v);
                    let (price, cur) = parse_price(&s);
                    p.price = price;
                    price_currency = cur;
                    if price.is_none() {
                        p.extra.push((key.clone(), s));
                    }
                }
                (Some(Field::Stock), Value::Number(n)) => {
                    p.stock = n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64))
                }
                (Some(Field::Stock), v) => {
                    let s = json_text(v);
                    p.stock = parse_stock(&s);
                    if p.stock.is_none() {
                        p.extra.push((key.clone(), s));
                    }
                }
                (Some(field), v) => {
                    let s = super::normalize_ws(&json_text(v));
                    if s.is_empty() {
                        continue;
                    }
                    match field {
                        Field::Name => p.name = s,
                        Field::Description => p.description = s,
                        Field::Currency => p.currency = Some(normalize_currency(&s)),
                        Field::Link => p.link = Some(s),
                        Field::Sku => p.sku = Some(s),
                        Field::Price | Field::Stock => {}
                    }
                }
                (None, v) => {
                    let s = json_text(v);
                    if !s.is_empty() {
                        p.extra.push((key.clone(), s));
                    }
                }
            }
        }
        if p.currency.is_none() {
            p.currency = price_currency.or_else(|| cols.header_currency.clone());
        }
        if !p.name.is_empty() {
            products.push(p);
        }
    }
    if products.is_empty() {
        if keys_seen.is_empty() {
            return Err(Error::rejected(
                Reason::Empty,
                "catalog contains no products",
            ));
        }
        return Err(no_name_column(&keys_seen));
    }
    Ok(products)
}

/// A JSON value as text: strings as they are, other scalars printed, structures as JSON.
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Lower case without accents, for matching names in three languages.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// The field a column header (or JSON key) names, if any.
fn classify(header: &str) -> Option<Field> {
    let folded = fold(header);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    for (field, synonyms) in SYNONYMS {
        if *field == Field::Link && has(IMAGE_WORDS) {
            continue;
        }
        if has(synonyms) {
            return Some(*field);
        }
    }
    // `productname`, `nombre_producto` written as one word.
    let joined: String = words.concat();
    if ["productname", "itemname", "nombreproducto", "nomeproduto"].contains(&joined.as_str()) {
        return Some(Field::Name);
    }
    has(WEAK_NAME).then_some(Field::Name)
}

/// Currency symbols, longest first so `US$` wins over `$`.
const SYMBOLS: &[(&str, &str)] = &[
    ("US$", "USD"),
    ("U$S", "USD"),
    ("R$", "BRL"),
    ("MX$", "MXN"),
    ("CA$", "CAD"),
    ("AU$", "AUD"),
    ("NZ$", "NZD"),
    ("S/.", "PEN"),
    ("S/", "PEN"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
    ("₹", "INR"),
    ("$", "USD"),
];

/// ISO 4217 codes recognised inside prices and headers.
const CODES: &[&str] = &[
    "USD", "EUR", "BRL", "MXN", "ARS", "CLP", "COP", "PEN", "UYU", "BOB", "PYG", "CRC", "GTQ",
    "DOP", "GBP", "CAD", "AUD", "NZD", "JPY", "CHF", "CNY", "INR",
];

fn currency_code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .map(str::to_ascii_uppercase)
        .find(|w| CODES.contains(&w.as_str()))
}

fn currency_symbol_in(text: &str) -> Option<String> {
    SYMBOLS
        .iter()
        .find(|(sym, _)| text.contains(sym))
        .map(|(_, code)| code.to_string())
}

/// A currency column's value as an ISO code when recognisable (`usd`, `US$`, `reais`).
fn normalize_currency(s: &str) -> String {
    let t = s.trim();
    if let Some(code) = currency_code_in(t).or_else(|| currency_symbol_in(t)) {
        return code;
    }
    match fold(t).as_str() {
        "dolar" | "dolares" | "dollar" | "dollars" => "USD".into(),
        "real" | "reais" => "BRL".into(),
        "euro" | "euros" => "EUR".into(),
        _ => t.to_string(),
    }
}

/// Parses a price as people write it: `US$ 1.299,90`, `$89`, `89.00 USD`, `R$ 45,50`,
/// `1,299.00`. Returns the amount and the currency its symbol or code names.
///
/// With both `.` and `,` the last one is the decimal separator; with one of them used once
/// and followed by exactly three digits it groups thousands (`1.299` = 1299); otherwise it is
/// the decimal separator.
pub fn parse_price(text: &str) -> (Option<f64>, Option<String>) {
    let currency = currency_code_in(text).or_else(|| currency_symbol_in(text));
    let Some(first) = text.find(|c: char| c.is_ascii_digit()) else {
        return (None, currency);
    };
    let last = text.rfind(|c: char| c.is_ascii_digit()).unwrap_or(first);
    let negative = text[..first].trim_end().ends_with('-');
    let core: String = text[first..=last]
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\'')
        .collect();
    if !core
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return (None, currency);
    }
    let number = match (core.rfind('.'), core.rfind(',')) {
        (Some(d), Some(c)) => {
            let (dec, thousands) = if d > c { ('.', ',') } else { (',', '.') };
            core.replace(thousands, "").replace(dec, ".")
        }
        (Some(_), None) => one_separator(&core, '.'),
        (None, Some(_)) => one_separator(&core, ','),
        (None, None) => core,
    };
    let value = number
        .parse::<f64>()
        .ok()
        .map(|v| if negative { -v } else { v });
    (value, currency)
}

fn one_separator(core: &str, sep: char) -> String {
    let count = core.matches(sep).count();
    let (int, frac) = core.split_once(sep).unwrap_or((core, ""));
    let thousands = count > 1 || (frac.len() == 3 && !int.is_empty() && int != "0");
    if thousands {
        core.replace(sep, "")
    } else {
        core.replace(sep, ".")
    }
}

/// A stock level: a number (`120`, `1.200`, `12 units`), or 0 for words that say sold out.
fn parse_stock(text: &str) -> Option<i64> {
    let folded = fold(text.trim());
    if [
        "agotado",
        "esgotado",
        "sold out",
        "out of stock",
        "sin stock",
        "sem estoque",
        "no",
        "none",
    ]
    .contains(&folded.as_str())
    {
        return Some(0);
    }
    let digits: String = folded
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
        .collect();
    if digits.is_empty() {
        return None;
    }
    let (value, _) = parse_price(&digits);
    value.filter(|v| v.is_finite()).map(|v| v.round() as i64)
}

/// One block per product, under the product's name, for indexing: `Andes Sunrise
/// (BR-ANDES-250). Price: 16.00 USD. In stock: 120. Medium roast…. Link: https://…`.
pub fn catalog_document(products: &[Product]) -> Document {
    let blocks = products
        .iter()
        .map(|p| Block {
            heading_path: vec![p.name.clone()],
            text: product_text(p),
            kind: BlockKind::Paragraph,
            location: Location {
                row_start: p.row,
                row_end: p.row,
                ..Location::default()
            },
        })
        .collect();
    Document {
        blocks,
        ..Document::default()
    }
}

fn product_text(p: &Product) -> String {
    let mut parts = Vec::new();
    parts.push(match &p.sku {
        Some(sku) => format!("{} ({sku}).", p.name),
        None => sentence(&p.name),
    });
    if let Some(price) = p.price {
        parts.push(match &p.currency {
            Some(c) => format!("Price: {price:.2} {c}."),
            None => format!("Price: {price:.2}."),
        });
    }
    match p.stock {
        Some(0) => parts.push("Out of stock.".into()),
        Some(n) => parts.push(format!("In stock: {n}.")),
        None => {}
    }
    if !p.description.is_empty() {
        parts.push(sentence(&p.description));
    }
    for (k, v) in &p.extra {
        parts.push(sentence(&format!("{k}: {v}")));
    }
    if let Some(link) = &p.link {
        parts.push(format!("Link: {link}"));
    }
    parts.join(" ")
}

/// `text` ending in sentence punctuation.
fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?', '…']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog parser with a time limit no test reaches.
    fn parse_catalog(bytes: &[u8], name: Option<&str>) -> Result<Vec<Product>> {
        super::parse_catalog(
            bytes,
            name,
            Deadline::after(std::time::Duration::from_secs(600)),
        )
    }

    #[test]
    fn prices_as_people_write_them() {
        let p = |s: &str| parse_price(s);
        assert_eq!(p("US$ 1.299,90"), (Some(1299.9), Some("USD".into())));
        assert_eq!(p("$89"), (Some(89.0), Some("USD".into())));
        assert_eq!(p("89.00 USD"), (Some(89.0), Some("USD".into())));
        assert_eq!(p("R$ 45,50"), (Some(45.5), Some("BRL".into())));
        assert_eq!(p("1,299.00"), (Some(1299.0), None));
        assert_eq!(p("1.299"), (Some(1299.0), None));
        assert_eq!(p("0.500"), (Some(0.5), None));
        assert_eq!(p("€ 12,5"), (Some(12.5), Some("EUR".into())));
        assert_eq!(p("S/ 1 250,00"), (Some(1250.0), Some("PEN".into())));
        assert_eq!(p("consultar"), (None, None));
        assert_eq!(parse_stock("Agotado"), Some(0));
        assert_eq!(parse_stock("1.200 unidades"), Some(1200));
        assert_eq!(parse_stock("12"), Some(12));
        assert_eq!(parse_stock("on request"), None);
    }

    #[test]
    fn headers_by_synonym_in_three_languages() {
        use Field::*;
        let cases = [
            ("Nombre", Some(Name)),
            ("Product Name", Some(Name)),
            ("Producto", Some(Name)),
            ("Nome do produto", Some(Name)),
            ("Descripción", Some(Description)),
            ("DESCRIÇÃO", Some(Description)),
            ("Product description", Some(Description)),
            ("Preço", Some(Price)),
            ("Price (USD)", Some(Price)),
            ("Valor", Some(Price)),
            ("Moneda", Some(Currency)),
            ("Existencias", Some(Stock)),
            ("Qty", Some(Stock)),
            ("Estoque", Some(Stock)),
            ("Enlace", Some(Link)),
            ("Página", Some(Link)),
            ("Product URL", Some(Link)),
            ("Image URL", None),
            ("Código", Some(Sku)),
            ("Product code", Some(Sku)),
            ("Ref.", Some(Sku)),
            ("Weight", None),
        ];
        for (header, want) in cases {
            assert_eq!(classify(header), want, "{header}");
        }
    }

    #[test]
    fn spanish_csv_catalog() {
        let csv = "Catálogo de primavera\n\
                   Nombre;Precio;Existencias;Enlace;Peso\n\
                   Molinillo manual;US$ 1.299,90;12;https://x.example/p/hg-50;700 g\n\
                   Hervidor;$89;Agotado;;\n\
                   ;5;1;;\n\
                   Filtro;a consultar;;;\n";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
        let products = parse_catalog(&latin1, Some("catalogo.csv")).unwrap();
        assert_eq!(
            products,
            vec![
                Product {
                    name: "Molinillo manual".into(),
                    price: Some(1299.9),
                    currency: Some("USD".into()),
                    stock: Some(12),
                    link: Some("https://x.example/p/hg-50".into()),
                    extra: vec![("Peso".into(), "700 g".into())],
                    row: Some(3),
                    ..Product::default()
                },
                Product {
                    name: "Hervidor".into(),
                    price: Some(89.0),
                    currency: Some("USD".into()),
                    stock: Some(0),
                    row: Some(4),
                    ..Product::default()
                },
                Product {
                    name: "Filtro".into(),
                    extra: vec![("Precio".into(), "a consultar".into())],
                    row: Some(6),
                    ..Product::default()
                },
            ]
        );
    }

    #[test]
    fn portuguese_json_catalog() {
        let json = r#"{"loja": "Brisa", "produtos": [
            {"nome": "Café Cerrado", "descrição": "Torra escura, 500 g", "preço": "R$ 45,50",
             "estoque": 30, "código": "BR-CERR-500", "origem": "Minas Gerais"},
            {"nome": "Chaleira", "preço": {"valor": 89, "moeda": "usd"}, "estoque": "esgotado"},
            {"ativo": true},
            "not an object"
        ]}"#;
        let products = parse_catalog(json.as_bytes(), Some("produtos.json")).unwrap();
        assert_eq!(
            products,
            vec![
                Product {
                    name: "Café Cerrado".into(),
                    description: "Torra escura, 500 g".into(),
                    price: Some(45.5),
                    currency: Some("BRL".into()),
                    stock: Some(30),
                    sku: Some("BR-CERR-500".into()),
                    extra: vec![("origem".into(), "Minas Gerais".into())],
                    row: Some(1),
                    ..Product::default()
                },
                Product {
                    name: "Chaleira".into(),
                    price: Some(89.0),
                    currency: Some("USD".into()),
                    stock: Some(0),
                    row: Some(2),
                    ..Product::default()
                },
            ]
        );
        let e = parse_catalog(br#"[{"sku": "A", "price": 1}]"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed: catalog has no product name column (found: price, sku)"
        );
        let e = parse_catalog(br#"{"shop": "x"}"#, None).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Malformed));
        let e = parse_catalog(b"[1, 2", None).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Malformed));
    }

    #[test]
    fn english_xlsx_catalog_first_sheet_with_a_name_column() {
        use rust_xlsxwriter::Workbook;
        let mut wb = Workbook::new();
        let notes = wb.add_worksheet().set_name("Read me").unwrap();
        notes.write(0, 0, "Prices valid in March").unwrap();
        let ws = wb.add_worksheet().set_name("Products").unwrap();
        let header = ["SKU", "Product Name", "Price (USD)", "Qty", "URL", "Weight"];
        for (c, h) in header.iter().enumerate() {
            ws.write(0, c as u16, *h).unwrap();
        }
        ws.write(1, 0, "BK-200").unwrap();
        ws.write(1, 1, "Brisa Pour-Over Kettle").unwrap();
        ws.write(1, 2, 89).unwrap();
        ws.write(1, 3, 14).unwrap();
        ws.write(1, 4, "https://brisacoffee.example/p/BK-200")
            .unwrap();
        ws.write(1, 5, "1.1 kg").unwrap();
        ws.write(2, 0, "DR-02").unwrap();
        ws.write(2, 1, "Ceramic Dripper").unwrap();
        ws.write(2, 2, 22.5).unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let products = parse_catalog(&bytes, Some("catalog.xlsx")).unwrap();
        assert_eq!(
            products,
            vec![
                Product {
                    name: "Brisa Pour-Over Kettle".into(),
                    price: Some(89.0),
                    currency: Some("USD".into()),
                    stock: Some(14),
                    link: Some("https://brisacoffee.example/p/BK-200".into()),
                    sku: Some("BK-200".into()),
                    extra: vec![("Weight".into(), "1.1 kg".into())],
                    row: Some(2),
                    ..Product::default()
                },
                Product {
                    name: "Ceramic Dripper".into(),
                    price: Some(22.5),
                    currency: Some("USD".into()),
                    sku: Some("DR-02".into()),
                    row: Some(3),
                    ..Product::default()
                },
            ]
        );
        let doc = catalog_document(&products);
        assert_eq!(
            doc.blocks[0].text,
            "Brisa Pour-Over Kettle (BK-200). Price: 89.00 USD. In stock: 14. Weight: 1.1 kg. \
             Link: https://brisacoffee.example/p/BK-200"
        );
        assert_eq!(
            doc.blocks[0].heading_path,
            vec!["Brisa Pour-Over Kettle".to_string()]
        );
        assert_eq!(doc.blocks[1].location.to_string(), "row 3");
        assert_eq!(
            serde_json::to_value(&products[1]).unwrap(),
            serde_json::json!({
                "name": "Ceramic Dripper", "description": "", "price": 22.5, "currency": "USD",
                "stock": null, "link": null, "sku": "DR-02", "extra": [], "row": 3
            })
        );
    }

    #[test]
    fn the_sample_catalog_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample-sources/catalog/products.csv"
        );
        let bytes = std::fs::read(path).unwrap();
        let products = parse_catalog(&bytes, Some("products.csv")).unwrap();
        let skus: Vec<&str> = products.iter().filter_map(|p| p.sku.as_deref()).collect();
        assert_eq!(
            skus,
            [
                "BR-ANDES-250",
                "BR-CERR-500",
                "BR-VOLC-250",
                "BR-GEISHA-100",
                "BK-200",
                "HG-50",
                "DR-02"
            ]
        );
        let geisha = &products[3];
        assert_eq!((geisha.price, geisha.stock), (Some(38.0), Some(0)));
        assert_eq!(
            catalog_document(&products).blocks[3].text,
            "Boquete Geisha (BR-GEISHA-100). Price: 38.00 USD. Out of stock. Light roast Geisha \
             from Boquete, Panama, with jasmine and bergamot. Limited seasonal lot, 100 g bag. \
             Link: https://brisacoffee.example/p/BR-GEISHA-100"
        );
    }

    #[test]
    fn missing_name_column_lists_the_columns() {
        let e = parse_catalog(b"SKU,Price,Stock\nA-1,5,3\n", Some("c.csv")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed: catalog has no product name column (found: SKU, Price, Stock)"
        );
    }

    #[test]
    fn a_catalog_read_past_its_time_is_refused() {
        let csv = b"Name,Price\nAndes Sunrise,16\n";
        let late = Deadline::after(std::time::Duration::ZERO);
        let e = super::parse_catalog(csv, Some("c.csv"), late).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ParseTimeout), "{e}");
        assert_eq!(parse_catalog(csv, Some("c.csv")).unwrap().len(), 1);
    }

    #[test]
    fn product_text_reads_as_sentences() {
        let p = Product {
            name: "Andes Sunrise".into(),
            description: "Medium roast from Huila, Colombia".into(),
            price: Some(16.0),
            currency: Some("USD".into()),
            stock: Some(120),
            link: Some("https://brisacoffee.example/p/BR-ANDES-250".into()),
            sku: Some("BR-ANDES-250".into()),
            ..Product::default()
        };
        assert_eq!(
            product_text(&p),
            "Andes Sunrise (BR-ANDES-250). Price: 16.00 USD. In stock: 120. Medium roast from \
             Huila, Colombia. Link: https://brisacoffee.example/p/BR-ANDES-250"
        );
        let bare = Product {
            name: "Gift card".into(),
            ..Product::default()
        };
        assert_eq!(product_text(&bare), "Gift card.");
    }
}

//! The size of a spreadsheet's used area, measured before calamine builds it (ODS, XLS).
//!
//! calamine's ODS reader (like its XLS reader) holds every sheet as a dense grid from the first
//! to the last filled row and column, and ODS lets a few bytes of XML say "this row 10,000
//! times" (`table:number-rows-repeated`) or "this cell 16,000 times"
//! (`table:number-columns-repeated`). A 900-byte ODS with three cells 10,000 rows and 9,000
//! columns apart made `lore add` allocate 5.6 GB (measured; calamine's own cap is 100 million
//! cells, about 6 GB). Several uploads parsed at once would take a server down. So the used
//! area of every sheet is measured first by a streaming pass over `content.xml` that only
//! counts, and a sheet over [`MAX_SHEET_CELLS`] is refused as
//! [`Reason::TooManyCells`] with its name and size, before calamine reads anything.
//!
//! The count mirrors how calamine 0.38 builds a sheet (`ods::read_table`): the grid spans the
//! filled rows (with their repeats) times the filled columns, and while reading, each row is
//! expanded up to its last filled cell. Both must stay under the limit. "Filled" is judged
//! generously (a cell with a value type, a formula or any content), so the estimate is never
//! below what calamine allocates.

use crate::error::{Error, Reason, Result};
use crate::parse::archive::{Archive, ArchiveLimits};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Most cells one sheet's used area may span. calamine spends about 62 bytes per cell of the
/// grid (a value and a formula string each), so this is ~310 MB at worst; a table that really
/// fills 5 million cells (100,000 rows × 50 columns) holds far more text than a source's
/// character limit (2 million by default) anyway.
pub const MAX_SHEET_CELLS: u64 = 5_000_000;

/// The most rows and columns a sheet can have (calamine caps repeats at these too).
const MAX_ROWS: u64 = 1_048_576;
const MAX_COLUMNS: u64 = 16_384;

/// The used area of one sheet, as calamine would build it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetExtent {
    pub name: String,
    /// Rows from the first to the last filled one, repeats counted.
    pub rows: u64,
    /// Columns from the first to the last filled one.
    pub columns: u64,
    /// Cells the reader creates while reading rows (each XML row up to its last filled cell).
    pub expanded: u64,
}

impl SheetExtent {
    /// Cells of the dense grid.
    pub fn cells(&self) -> u64 {
        self.rows.saturating_mul(self.columns)
    }
}

/// Refuses an ODS file one of whose sheets spans more than [`MAX_SHEET_CELLS`] cells. A file
/// without `content.xml` passes: calamine then reports it as damaged.
pub(crate) fn check_ods(bytes: &[u8]) -> Result<()> {
    let mut archive = Archive::open(bytes, ArchiveLimits::default())?;
    let Some(xml) = archive.read("content.xml")? else {
        return Ok(());
    };
    for sheet in ods_extents(&xml) {
        check(&sheet)?;
    }
    Ok(())
}

/// Refuses an XLS file one of whose sheets spans more than [`MAX_SHEET_CELLS`] cells.
///
/// calamine reads an XLS sheet's cells and then builds the grid from the first to the last
/// filled row and column: a 5.6 KB file with two cells at A1 and IV65536 made `lore add`
/// take 1.07 GB (measured). The cell records of the `Workbook` stream say where every cell
/// is, so they are counted first. A file whose container or stream cannot be read passes:
/// calamine then reports what is wrong with it.
pub(crate) fn check_xls(bytes: &[u8]) -> Result<()> {
    let Some(stream) = workbook_stream(bytes) else {
        return Ok(());
    };
    for sheet in xls_extents(&stream) {
        check(&sheet)?;
    }
    Ok(())
}

/// The `Workbook` (BIFF8) or `Book` (BIFF5) stream of an OLE container.
fn workbook_stream(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).ok()?;
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| file.is_stream(n))?;
    let mut stream = file.open_stream(name).ok()?;
    let mut out = Vec::new();
    // The stream lives inside the file, so it cannot be longer than the file.
    stream
        .by_ref()
        .take(bytes.len() as u64)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The used area of every sheet of a BIFF8 workbook stream, from its cell records. Sheets
/// are the substreams between a `BOF` and its `EOF` after the workbook globals, named by the
/// globals' `BOUNDSHEET` records in order.
pub fn xls_extents(stream: &[u8]) -> Vec<SheetExtent> {
    const BOF: u16 = 0x0809;
    const EOF: u16 = 0x000A;
    const BOUNDSHEET: u16 = 0x0085;
    let mut names: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut depth = 0usize;
    let mut sheets = 0usize;
    // First and last row, first and last column of the current substream's cells.
    let mut area: Option<(u64, u64, u64, u64)> = None;
    let cell = |area: &mut Option<(u64, u64, u64, u64)>, row: u64, first: u64, last: u64| {
        *area = Some(match *area {
            None => (row, row, first, last),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(first), c1.max(last)),
        });
    };
    while at + 4 <= stream.len() {
        let kind = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let data = &stream[at + 4..(at + 4 + len).min(stream.len())];
        at += 4 + len;
        let u16_at = |i: usize| {
            data.get(i..i + 2)
                .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
        };
        match kind {
            BOF => {
                depth += 1;
                area = None;
            }
            // FILEPASS: what follows is encrypted, and calamine reports the file as
            // password-protected; nothing here can be measured.
            0x002F => return Vec::new(),
            EOF => {
                if depth == 1 {
                    // The first substream is the workbook globals; the rest are sheets.
                    if let Some((r0, r1, c0, c1)) = area.take() {
                        let name = sheets
                            .checked_sub(1)
                            .and_then(|i| names.get(i).cloned())
                            .unwrap_or_else(|| format!("sheet {sheets}"));
                        out.push(SheetExtent {
                            name,
                            rows: r1 - r0 + 1,
                            columns: c1 - c0 + 1,
                            expanded: 0,
                        });
                    }
                    sheets += 1;
                }
                depth = depth.saturating_sub(1);
            }
            // Position (u32), visibility, type, then the name: length, a flag whose bit 0
            // says two bytes a character, the characters.
            BOUNDSHEET if depth == 1 && sheets == 0 => {
                let cch = usize::from(data.get(6).copied().unwrap_or(0));
                let wide = data.get(7).is_some_and(|f| f & 1 == 1);
                let chars = data.get(8..).unwrap_or(&[]);
                let name = if wide {
                    let units: Vec<u16> = chars
                        .chunks_exact(2)
                        .take(cch)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    String::from_utf16_lossy(&units)
                } else {
                    // Compressed: the low bytes of UTF-16, i.e. Latin-1.
                    chars.iter().take(cch).map(|&b| char::from(b)).collect()
                };
                names.push(name);
            }
            // LABELSST, NUMBER, RK, LABEL, RSTRING, BOOLERR, FORMULA: row, column, …
            0x00FD | 0x0203 | 0x027E | 0x0204 | 0x00D6 | 0x0205 | 0x0006 => {
                if let (Some(row), Some(col)) = (u16_at(0), u16_at(2)) {
                    cell(&mut area, row, col, col);
                }
            }
            // MULRK: row, first column, RK values, last column.
            0x00BD if data.len() >= 6 => {
                if let (Some(row), Some(first), Some(last)) =
                    (u16_at(0), u16_at(2), u16_at(data.len() - 2))
                {
                    cell(&mut area, row, first, last.max(first));
                }
            }
            _ => {}
        }
    }
    out
}

/// Refuses a sheet whose grid (or the cells expanded while reading it) is over the limit.
fn check(sheet: &SheetExtent) -> Result<()> {
    let cells = sheet.cells().max(sheet.expanded);
    if cells > MAX_SHEET_CELLS {
        return Err(Error::rejected(
            Reason::TooManyCells,
            format!(
                "sheet {:?} spans {} rows × {} columns ({cells} cells), over the limit of \
                 {MAX_SHEET_CELLS}: delete the stray cells far from the table, or split \
                 the sheet",
                sheet.name, sheet.rows, sheet.columns
            ),
        ));
    }
    Ok(())
}

/// Where the scan is inside the current sheet.
#[derive(Default)]
struct Scan {
    sheet: SheetExtent,
    /// Rows read so far (repeats counted), i.e. the index of the next row.
    next_row: u64,
    /// First and last filled row (`last` as the index of its final repeat).
    first_row: Option<u64>,
    last_row: u64,
    first_col: u64,
    last_col: u64,
    /// The row being read: its repeats, next column, first and end of its filled cells.
    row_repeats: u64,
    col: u64,
    row_filled: Option<(u64, u64)>,
    /// The cell being read (a start tag was seen): its column, repeats and whether it holds
    /// anything yet.
    cell: Option<(u64, u64, bool)>,
}

impl Scan {
    fn start_row(&mut self, e: &BytesStart<'_>) {
        let repeats = count_attr(e, "table:number-rows-repeated");
        self.row_repeats = repeats.min(MAX_ROWS.saturating_sub(self.next_row));
        self.col = 0;
        self.row_filled = None;
    }

    fn end_row(&mut self) {
        if let Some((first, end)) = self.row_filled {
            if self.first_row.is_none() {
                self.first_row = Some(self.next_row);
                self.first_col = first;
            }
            self.first_col = self.first_col.min(first);
            self.last_col = self.last_col.max(end.saturating_sub(1));
            self.last_row = self.next_row + self.row_repeats.max(1) - 1;
            self.sheet.expanded = self.sheet.expanded.saturating_add(end);
        }
        self.next_row = self.next_row.saturating_add(self.row_repeats);
    }

    fn start_cell(&mut self, e: &BytesStart<'_>) -> (u64, u64, bool) {
        let repeats = count_attr(e, "table:number-columns-repeated")
            .min(MAX_COLUMNS.saturating_sub(self.col));
        let valued = has_attr(e, "office:value-type") || has_attr(e, "table:formula");
        let at = self.col;
        self.col += repeats;
        (at, repeats, valued)
    }

    fn end_cell(&mut self, (at, repeats, filled): (u64, u64, bool)) {
        if filled && repeats > 0 {
            let end = at + repeats;
            self.row_filled = Some(match self.row_filled {
                Some((first, _)) => (first, end),
                None => (at, end),
            });
        }
    }

    fn finish(mut self) -> SheetExtent {
        if let Some(first) = self.first_row {
            self.sheet.rows = self.last_row + 1 - first;
            self.sheet.columns = self.last_col + 1 - self.first_col;
        }
        self.sheet
    }
}

/// The used area of every sheet of an ODS `content.xml`. Broken XML ends the scan with what
/// was counted so far (calamine then reports the damage).
pub fn ods_extents(xml: &[u8]) -> Vec<SheetExtent> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut scan: Option<Scan> = None;
    // Tables nested in cells belong to their cell, not to the sheet's grid.
    let mut depth = 0usize;
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        match event {
            Event::Start(e) => match e.name().as_ref() {
                "table:table" => {
                    depth += 1;
                    if depth == 1 {
                        let name = attr_text(&e, "table:name");
                        scan = Some(Scan {
                            sheet: SheetExtent {
                                name,
                                ..SheetExtent::default()
                            },
                            ..Scan::default()
                        });
                    }
                }
                "table:table-row" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        s.start_row(&e);
                    }
                }
                "table:table-cell" | "table:covered-table-cell" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        s.cell = Some(s.start_cell(&e));
                    }
                }
                _ => mark_content(scan.as_mut(), depth),
            },
            Event::Empty(e) => match e.name().as_ref() {
                "table:table-row" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        s.start_row(&e);
                        s.end_row();
                    }
                }
                "table:table-cell" | "table:covered-table-cell" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        let cell = s.start_cell(&e);
                        s.end_cell(cell);
                    }
                }
                _ => mark_content(scan.as_mut(), depth),
            },
            Event::Text(t) if !t.as_ref().trim().is_empty() => mark_content(scan.as_mut(), depth),
            Event::End(e) => match e.name().as_ref() {
                "table:table" => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        if let Some(s) = scan.take() {
                            out.push(s.finish());
                        }
                    } else {
                        mark_content(scan.as_mut(), depth);
                    }
                }
                "table:table-row" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        s.end_row();
                    }
                }
                "table:table-cell" | "table:covered-table-cell" if depth == 1 => {
                    if let Some(s) = scan.as_mut() {
                        if let Some(cell) = s.cell.take() {
                            s.end_cell(cell);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        buf.clear();
    }
    out
}

/// Anything inside a cell (a paragraph, text, a nested table) makes it filled.
fn mark_content(scan: Option<&mut Scan>, depth: usize) {
    if depth >= 1 {
        if let Some(Some(cell)) = scan.map(|s| s.cell.as_mut()) {
            cell.2 = true;
        }
    }
}

fn has_attr(e: &BytesStart<'_>, name: &str) -> bool {
    e.attributes().flatten().any(|a| a.key.as_ref() == name)
}

fn attr_text(e: &BytesStart<'_>, name: &str) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| a.value.into_owned())
        .unwrap_or_default()
}

/// A repeat count; absent, zero or unreadable counts as 1 (as a reader would take it).
fn count_attr(e: &BytesStart<'_>, name: &str) -> u64 {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.value.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ample() -> crate::parse::deadline::Deadline {
        crate::parse::deadline::Deadline::after(std::time::Duration::from_secs(600))
    }

    const CELL: &str =
        r#"<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>"#;

    fn content(tables: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"#
        )
    }

    #[test]
    fn the_used_area_counts_repeats_and_skips_trailing_empty_cells() {
        // Row 1: a filled cell, 3 empty ones, a filled one (columns 0..=4); then 10 empty rows
        // and a row of one filled cell repeated twice in column 1 (rows 11 and 12); trailing
        // empty cells repeated 16,000 times (what spreadsheet programs write) count nothing.
        let xml = content(&format!(
            r#"<table:table table:name="Prices"><table:table-row>{CELL}<table:table-cell table:number-columns-repeated="3"/>{CELL}<table:table-cell table:number-columns-repeated="16000"/></table:table-row><table:table-row table:number-rows-repeated="10"><table:table-cell table:number-columns-repeated="1024"/></table:table-row><table:table-row table:number-rows-repeated="2"><table:table-cell/>{CELL}</table:table-row><table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table><table:table table:name="Empty"><table:table-row><table:table-cell/></table:table-row></table:table>"#
        ));
        let got = ods_extents(xml.as_bytes());
        assert_eq!(
            got,
            vec![
                SheetExtent {
                    name: "Prices".into(),
                    rows: 13,
                    columns: 5,
                    expanded: 5 + 2,
                },
                SheetExtent {
                    name: "Empty".into(),
                    ..SheetExtent::default()
                },
            ]
        );
    }

    #[test]
    fn a_nested_table_fills_its_cell_and_adds_no_rows() {
        let xml = content(&format!(
            r#"<table:table table:name="Outer"><table:table-row><table:table-cell><table:table table:name="Inner"><table:table-row table:number-rows-repeated="500">{CELL}</table:table-row></table:table></table:table-cell></table:table-row></table:table>"#
        ));
        let got = ods_extents(xml.as_bytes());
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].rows, got[0].columns), (1, 1));
    }

    #[test]
    fn a_far_corner_is_refused_with_the_sheet_named() {
        let xml = content(&format!(
            r#"<table:table table:name="Bomb"><table:table-row>{CELL}<table:table-cell table:number-columns-repeated="9000"/>{CELL}</table:table-row><table:table-row table:number-rows-repeated="10000"><table:table-cell/></table:table-row><table:table-row>{CELL}</table:table-row></table:table>"#
        ));
        let got = ods_extents(xml.as_bytes());
        assert_eq!((got[0].rows, got[0].columns), (10_002, 9_002));
        let bytes = crate::parse::archive::tests::zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", xml.as_bytes()),
        ]);
        // Through the spreadsheet parser, which measures before calamine reads.
        let e = crate::parse::sheet::parse_workbook(&bytes, crate::parse::Format::Ods, ample())
            .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::TooManyCells), "{e}");
        assert!(e.to_string().contains("\"Bomb\""), "{e}");
        assert!(e.to_string().contains("10002 rows × 9002 columns"), "{e}");
    }

    /// A BIFF8 record.
    fn rec(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    /// A NUMBER record at (row, col).
    fn number(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend([0, 0]); // format index
        d.extend(1.0f64.to_le_bytes());
        rec(0x0203, &d)
    }

    /// A workbook stream: globals naming the sheets, then one substream of cells per sheet.
    fn biff(sheets: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
        let bof = rec(0x0809, &[0, 6, 0x10, 0, 0, 0, 0, 0]);
        let eof = rec(0x000A, &[]);
        let mut s = bof.clone();
        for (name, _) in sheets {
            let mut d = vec![0, 0, 0, 0, 0, 0, name.len() as u8, 0];
            d.extend(name.as_bytes());
            s.extend(rec(0x0085, &d));
        }
        s.extend(&eof);
        for (_, cells) in sheets {
            s.extend(&bof);
            for c in cells {
                s.extend(c);
            }
            s.extend(&eof);
        }
        s
    }

    /// An OLE container holding `stream` as its `Workbook`, written with the cfb crate.
    fn xls_of(stream: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        file.create_stream("/Workbook")
            .unwrap()
            .write_all(stream)
            .unwrap();
        file.flush().unwrap();
        file.into_inner().into_inner()
    }

    #[test]
    fn xls_sheets_are_measured_from_their_cell_records() {
        let mut mulrk = 3u16.to_le_bytes().to_vec();
        mulrk.extend(2u16.to_le_bytes());
        mulrk.extend([0; 12]); // two RK values (xf + value)
        mulrk.extend(3u16.to_le_bytes());
        let stream = biff(&[
            (
                "Prices",
                vec![number(0, 0), number(4, 1), rec(0x00BD, &mulrk)],
            ),
            ("Empty", vec![]),
            ("Far", vec![number(0, 0), number(65_535, 255)]),
        ]);
        let got: Vec<(String, u64, u64)> = xls_extents(&stream)
            .into_iter()
            .map(|s| (s.name, s.rows, s.columns))
            .collect();
        assert_eq!(
            got,
            vec![("Prices".into(), 5, 4), ("Far".into(), 65_536, 256)]
        );
        // Through the spreadsheet parser: 16.8 million cells is refused before calamine reads
        // it (this shape made it take 1.07 GB), a small sheet passes the check.
        let e = crate::parse::sheet::parse_workbook(
            &xls_of(&stream),
            crate::parse::Format::Xls,
            ample(),
        )
        .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::TooManyCells), "{e}");
        assert!(
            e.to_string()
                .contains("\"Far\" spans 65536 rows × 256 columns"),
            "{e}"
        );
        let small = biff(&[("Prices", vec![number(0, 0), number(4, 1)])]);
        assert!(check_xls(&xls_of(&small)).is_ok());
        // An encrypted workbook's cell records are ciphertext: not measured (calamine says
        // password-protected).
        let mut locked = biff(&[("Far", vec![number(0, 0), number(65_535, 255)])]);
        locked.splice(12..12, rec(0x002F, &[0; 6]));
        assert!(xls_extents(&locked).is_empty());
        // Broken input is calamine's to report, never a panic here.
        assert!(xls_extents(&[0x09, 0x08, 0xff, 0xff, 1]).is_empty());
        assert!(check_xls(b"not an ole file").is_ok());
    }

    #[test]
    fn wide_rows_count_while_reading_even_when_the_grid_is_narrow() {
        // 400 XML rows, each one filled cell repeated 16,384 times: a 400 × 16,384 grid,
        // 6.5 million cells created while reading.
        let row = r#"<table:table-row><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>"#;
        let xml = content(&format!(
            r#"<table:table table:name="Wide">{}</table:table>"#,
            row.repeat(400)
        ));
        let got = ods_extents(xml.as_bytes());
        assert_eq!(got[0].expanded, 400 * 16_384);
        assert!(got[0].expanded > MAX_SHEET_CELLS);
    }
}

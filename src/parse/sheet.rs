//! Spreadsheets (XLSX, XLS, XLSB, ODS with calamine) and delimited text (CSV/TSV).
//!
//! A row on its own ("Andes Sunrise | 16 | 250") means nothing to a search engine or to the
//! model that reads the hit; with its column names ("Product: Andes Sunrise; Price: 16;
//! Weight (g): 250") it answers a question by itself. So every data row becomes one
//! [`BlockKind::TableRow`] block rendered `Header: value; …`, cited by sheet and row number
//! as the person who owns the file sees them (1-based, title rows included).
//!
//! Values are rendered the way a spreadsheet shows them, not the way it stores them:
//! integers without `.0`, floats at Excel's 15 significant digits (no
//! `0.30000000000000004`), dates as ISO `2026-03-01` or `2026-03-01 14:30`, booleans as
//! `TRUE`/`FALSE`, errors as `#DIV/0!`.
//!
//! XLSX and XLSB are read cell by cell (calamine's cell readers), never as a dense range: a
//! sheet with one value in A1 and one in XFD1048576 is two cells, not seventeen billion.

use super::archive::{self, ArchiveLimits};
use super::deadline::{Deadline, Ticker};
use super::decode::decode_text;
use super::{Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::error::{Error, Reason, Result};
use calamine::{
    Data, DataRef, ExcelDateTime, Ods, Range, Reader, SheetType, Xls, Xlsb, Xlsx, XlsxError,
};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Cursor;

/// Rows looked at below a header candidate to decide whether it is one.
const HEADER_SAMPLE_ROWS: usize = 20;

/// Title and note rows ("Price list — March 2026") allowed above a header row.
const MAX_TITLE_ROWS: usize = 6;

/// Longest cell text (in characters) that can be a column name.
const MAX_HEADER_CHARS: usize = 60;

/// How much text the delimiter sniffer reads.
const SNIFF_BYTES: usize = 64 * 1024;

/// Records the delimiter sniffer looks at.
const SNIFF_RECORDS: usize = 100;

/// Delimiters tried for CSV, in order of preference on a tie: a tab or a semicolon inside a
/// field is rarer than a comma, so when both split the rows equally well they win.
const DELIMITERS: [u8; 4] = [b'\t', b';', b',', b'|'];

/// Parser for one spreadsheet format; stateless, one static per format.
pub struct SheetParser(Format);

pub static XLSX: SheetParser = SheetParser(Format::Xlsx);
pub static XLS: SheetParser = SheetParser(Format::Xls);
pub static XLSB: SheetParser = SheetParser(Format::Xlsb);
pub static ODS: SheetParser = SheetParser(Format::Ods);
pub static CSV: SheetParser = SheetParser(Format::Csv);

impl Parser for SheetParser {
    fn format(&self) -> Format {
        self.0
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        match self.0 {
            Format::Csv => parse_csv(bytes, "Sheet1", opts.deadline()),
            format => parse_workbook(bytes, format, opts.deadline()),
        }
    }
}

/// What a cell holds, as far as header detection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellKind {
    Text,
    Number,
    Date,
    Bool,
    Error,
}

/// One non-empty cell, already rendered as a person sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    /// 0-based column.
    pub col: u32,
    pub text: String,
    pub kind: CellKind,
    /// The numeric value of number cells, for callers that need it (the catalog's prices).
    pub number: Option<f64>,
}

/// One row with at least one non-empty cell; cells sorted by column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// 1-based row number as shown by a spreadsheet application.
    pub number: u32,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn get(&self, col: u32) -> Option<&Cell> {
        self.cells
            .binary_search_by_key(&col, |c| c.col)
            .ok()
            .map(|i| &self.cells[i])
    }
}

/// A sheet's name and its non-empty rows in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SheetRows {
    pub name: String,
    pub rows: Vec<Row>,
}

/// Parses a workbook of a calamine format into one block per row of every sheet, within
/// `deadline`.
pub fn parse_workbook(bytes: &[u8], format: Format, deadline: Deadline) -> Result<Document> {
    let (sheets, mut warnings) = read_workbook(bytes, format, deadline)?;
    let mut doc = Document::default();
    for sheet in &sheets {
        render_sheet(sheet, &mut doc.blocks);
    }
    doc.warnings.append(&mut warnings);
    doc.non_empty("workbook")
}

/// Parses CSV or TSV (delimiter sniffed, encoding detected) as a one-sheet workbook whose
/// sheet is called `sheet_name`, within `deadline`.
pub fn parse_csv(bytes: &[u8], sheet_name: &str, deadline: Deadline) -> Result<Document> {
    let decoded = decode_text(bytes)?;
    let sheet = csv_rows(&decoded.text, sheet_name, deadline)?;
    let mut doc = Document {
        warnings: decoded.warnings(),
        ..Document::default()
    };
    render_sheet(&sheet, &mut doc.blocks);
    doc.non_empty("csv file")
}

/// The sheet name a spreadsheet application shows for a CSV file: its name without folder
/// and extension (`exports/products.csv` → `products`), else `Sheet1`.
pub fn csv_sheet_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    if stem.trim().is_empty() {
        "Sheet1".to_string()
    } else {
        stem.trim().to_string()
    }
}

/// Reads every worksheet of a workbook into rows of rendered cells, with warnings for
/// sheets that could not be read. Zip-based formats pass the archive limits first; running
/// past `deadline` refuses the file.
pub(crate) fn read_workbook(
    bytes: &[u8],
    format: Format,
    deadline: Deadline,
) -> Result<(Vec<SheetRows>, Vec<String>)> {
    if matches!(format, Format::Xlsx | Format::Xlsb | Format::Ods) {
        archive::check(bytes, ArchiveLimits::default())?;
    }
    // calamine builds ODS and XLS sheets as dense grids: measure them before it does.
    match format {
        Format::Ods => super::sheet_extent::check_ods(bytes)?,
        // A panic in the OLE reader leaves the file to calamine, which is guarded below.
        Format::Xls => std::panic::catch_unwind(|| super::sheet_extent::check_xls(bytes))
            .unwrap_or_else(|_| {
                tracing::warn!("xls container reader panicked; the sheet size is not checked");
                Ok(())
            })?,
        _ => {}
    }
    // calamine parses binary formats written by anyone; should it ever panic on a crafted
    // file, that is a corrupted file to the user, not a crashed ingestion batch.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_calamine(bytes, format, deadline)
    }))
    .unwrap_or_else(|_| {
        tracing::warn!(%format, "spreadsheet reader panicked; file refused as corrupted");
        Err(Error::rejected(
            Reason::Corrupted,
            format!("{format} workbook is damaged: its reader failed on it"),
        ))
    })
}

fn read_calamine(
    bytes: &[u8],
    format: Format,
    deadline: Deadline,
) -> Result<(Vec<SheetRows>, Vec<String>)> {
    let cursor = Cursor::new(bytes);
    let mut warnings = Vec::new();
    let what = format!("{format} workbook reading");
    let mut ticker = deadline.ticker(&what);
    let sheets = match format {
        Format::Xlsx => {
            let mut wb: Xlsx<_> = Xlsx::new(cursor).map_err(|e| workbook_error(&e, format))?;
            let mut out = Vec::new();
            for name in worksheet_names(&wb) {
                match xlsx_sheet(&mut wb, &name, &mut ticker)? {
                    Ok(read) => read.keep(name, format, &mut out, &mut warnings)?,
                    Err(e) => sheet_failed(&name, &e, format, &mut warnings)?,
                }
            }
            out
        }
        Format::Xlsb => {
            let mut wb: Xlsb<_> = Xlsb::new(cursor).map_err(|e| workbook_error(&e, format))?;
            let mut out = Vec::new();
            for name in worksheet_names(&wb) {
                match xlsb_sheet(&mut wb, &name, &mut ticker)? {
                    Ok(read) => read.keep(name, format, &mut out, &mut warnings)?,
                    Err(e) => sheet_failed(&name, &e, format, &mut warnings)?,
                }
            }
            out
        }
        Format::Xls => {
            let wb: Xls<_> = Xls::new(cursor).map_err(|e| workbook_error(&e, format))?;
            ranges(wb, format, &mut warnings, &mut ticker)?
        }
        Format::Ods => {
            let wb: Ods<_> = Ods::new(cursor).map_err(|e| workbook_error(&e, format))?;
            ranges(wb, format, &mut warnings, &mut ticker)?
        }
        other => return Err(Error::Internal(format!("{other} is not a workbook format"))),
    };
    Ok((sheets, warnings))
}

/// Names of the sheets that hold cells (worksheets and dialog sheets; not charts or code).
fn worksheet_names<RS: std::io::Read + std::io::Seek, R: Reader<RS>>(wb: &R) -> Vec<String> {
    wb.sheets_metadata()
        .iter()
        .filter(|s| matches!(s.typ, SheetType::WorkSheet | SheetType::DialogSheet))
        .map(|s| s.name.clone())
        .collect()
}

/// Formats whose calamine reader builds whole ranges (XLS, ODS).
fn ranges<RS, R>(
    mut wb: R,
    format: Format,
    warnings: &mut Vec<String>,
    ticker: &mut Ticker<'_>,
) -> Result<Vec<SheetRows>>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    for name in worksheet_names(&wb) {
        match wb.worksheet_range(&name) {
            Ok(range) => out.push(SheetRows {
                rows: range_rows(&range, ticker)?,
                name,
            }),
            Err(e) => sheet_failed(&name, &e.to_string(), format, warnings)?,
        }
    }
    Ok(out)
}

/// A sheet that cannot be read is a warning, unless the cause is a zip bomb.
fn sheet_failed(name: &str, e: &str, format: Format, warnings: &mut Vec<String>) -> Result<()> {
    if archive::is_oversize_error(e) {
        return Err(oversize(format));
    }
    tracing::debug!(sheet = name, error = e, "sheet skipped");
    warnings.push(format!("sheet {name} could not be read: {e}"));
    Ok(())
}

fn oversize(format: Format) -> Error {
    Error::rejected(
        Reason::ZipBomb,
        format!("{format} archive entry holds more than its declared size (declared size)"),
    )
}

/// Maps calamine's error on opening a workbook to a reason.
fn workbook_error(e: &dyn std::fmt::Display, format: Format) -> Error {
    let msg = e.to_string();
    if archive::is_oversize_error(&msg) {
        return oversize(format);
    }
    if msg.contains("password protected") || msg.contains("encrypted") {
        return Error::rejected(
            Reason::PasswordProtected,
            format!("{format} workbook is protected with a password"),
        );
    }
    Error::rejected(
        Reason::Corrupted,
        format!("{format} workbook cannot be read: {msg}"),
    )
}

/// Most unreadable cells one sheet may skip before the rest of it is given up.
const MAX_SKIPPED_CELLS: usize = 100_000;

/// What reading one sheet cell by cell gave: its rows, and what went wrong on the way.
struct SheetRead {
    rows: Vec<Row>,
    /// Cells whose value could not be read (a number written `" 41"`), left out; with the
    /// first error.
    skipped: usize,
    first_skip: Option<String>,
    /// Why the sheet ends early: the rows before it are kept.
    broken: Option<String>,
}

impl SheetRead {
    /// Adds the sheet to `out` with its warnings. A sheet broken before its first row is a
    /// sheet that could not be read at all ([`sheet_failed`]).
    fn keep(
        self,
        name: String,
        format: Format,
        out: &mut Vec<SheetRows>,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        if let Some(e) = &self.broken {
            if self.rows.is_empty() {
                return sheet_failed(&name, e, format, warnings);
            }
            // A zip bomb is refused whatever was read before it.
            if archive::is_oversize_error(e) {
                return Err(oversize(format));
            }
        }
        if self.skipped > 0 {
            warnings.push(format!(
                "sheet {name}: {} cell{} could not be read and {} left out ({})",
                self.skipped,
                if self.skipped == 1 { "" } else { "s" },
                if self.skipped == 1 { "was" } else { "were" },
                self.first_skip.as_deref().unwrap_or("unknown error"),
            ));
        }
        if let Some(e) = self.broken {
            let last = self.rows.last().map_or(0, |r| r.number);
            warnings.push(format!(
                "sheet {name} is damaged after row {last}: {e}; the rows before it are kept"
            ));
        }
        out.push(SheetRows {
            name,
            rows: self.rows,
        });
        Ok(())
    }
}

/// An XLSX error confined to one cell (its value or its address), after which calamine's cell
/// reader goes on with the next cell; anything else (broken XML, the archive) ends the sheet.
fn cell_level(e: &XlsxError) -> bool {
    matches!(
        e,
        XlsxError::Parse(_)
            | XlsxError::ParseFloat(_)
            | XlsxError::ParseInt(_)
            | XlsxError::XmlAttr(_)
            | XlsxError::Alphanumeric(_)
            | XlsxError::NumericColumn(_)
            | XlsxError::RangeWithoutColumnComponent
            | XlsxError::RangeWithoutRowComponent
            | XlsxError::ColumnNumberOverflow
            | XlsxError::RowNumberOverflow
            | XlsxError::CellTAttribute(_)
            | XlsxError::CellError(_)
            | XlsxError::Unrecognized { .. }
    )
}

/// Reads an XLSX sheet cell by cell. A cell that cannot be read is left out (with a warning),
/// not the sheet: one number written `" 41"` used to cost a sheet of a thousand rows.
fn xlsx_sheet(
    wb: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
    ticker: &mut Ticker<'_>,
) -> Result<Result<SheetRead, String>> {
    match wb.worksheet_cells_reader(name) {
        Ok(mut reader) => read_cells(|| reader.next_cell(), cell_level, ticker).map(Ok),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// Reads an XLSB sheet cell by cell. Records are binary, so after an error nothing tells
/// where the next one starts: the sheet ends there, keeping the rows before it.
fn xlsb_sheet(
    wb: &mut Xlsb<Cursor<&[u8]>>,
    name: &str,
    ticker: &mut Ticker<'_>,
) -> Result<Result<SheetRead, String>> {
    match wb.worksheet_cells_reader(name) {
        Ok(mut reader) => read_cells(|| reader.next_cell(), |_| false, ticker).map(Ok),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// Collects the cells `next` yields into rows. An error for which `skippable` holds leaves
/// that cell out and goes on (at most [`MAX_SKIPPED_CELLS`] times); any other ends the sheet
/// there, keeping the rows before it.
fn read_cells<'a, E: std::fmt::Display>(
    mut next: impl FnMut() -> std::result::Result<Option<calamine::Cell<DataRef<'a>>>, E>,
    skippable: impl Fn(&E) -> bool,
    ticker: &mut Ticker<'_>,
) -> Result<SheetRead> {
    let mut grid = GridBuilder::default();
    let (mut skipped, mut first_skip, mut broken) = (0, None, None);
    loop {
        ticker.tick()?;
        match next() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                grid.push(r, c, cell.get_value());
            }
            Ok(None) => break,
            Err(e) if skippable(&e) && skipped < MAX_SKIPPED_CELLS => {
                skipped += 1;
                first_skip.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                broken = Some(e.to_string());
                break;
            }
        }
    }
    Ok(SheetRead {
        rows: grid.finish(),
        skipped,
        first_skip,
        broken,
    })
}

/// Collects sparse cells (in any order) into sorted rows.
#[derive(Default)]
struct GridBuilder {
    cells: Vec<(u32, Cell)>,
    sorted: bool,
    last: Option<(u32, u32)>,
}

impl GridBuilder {
    fn push(&mut self, row: u32, col: u32, value: &DataRef<'_>) {
        let Some((text, kind, number)) = render_ref(value) else {
            return;
        };
        if self.last.is_some_and(|last| last >= (row, col)) {
            self.sorted = false;
        } else if self.last.is_none() {
            self.sorted = true;
        }
        self.last = Some((row, col));
        self.cells.push((
            row,
            Cell {
                col,
                text,
                kind,
                number,
            },
        ));
    }

    fn finish(mut self) -> Vec<Row> {
        if !self.sorted {
            self.cells.sort_by_key(|(r, c)| (*r, c.col));
            self.cells.dedup_by(|b, a| a.0 == b.0 && a.1.col == b.1.col);
        }
        let mut rows: Vec<Row> = Vec::new();
        for (r, cell) in self.cells {
            let number = r.saturating_add(1);
            match rows.last_mut() {
                Some(last) if last.number == number => last.cells.push(cell),
                _ => rows.push(Row {
                    number,
                    cells: vec![cell],
                }),
            }
        }
        rows
    }
}

fn range_rows(range: &Range<Data>, ticker: &mut Ticker<'_>) -> Result<Vec<Row>> {
    let Some((row0, col0)) = range.start() else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for (i, values) in range.rows().enumerate() {
        ticker.tick()?;
        let cells: Vec<Cell> = values
            .iter()
            .enumerate()
            .filter_map(|(j, v)| {
                let (text, kind, number) = render_data(v)?;
                Some(Cell {
                    col: col0.saturating_add(j as u32),
                    text,
                    kind,
                    number,
                })
            })
            .collect();
        if !cells.is_empty() {
            rows.push(Row {
                number: row0.saturating_add(i as u32).saturating_add(1),
                cells,
            });
        }
    }
    Ok(rows)
}

type Rendered = (String, CellKind, Option<f64>);

fn render_data(v: &Data) -> Option<Rendered> {
    match v {
        Data::Empty => None,
        Data::Int(i) => Some((i.to_string(), CellKind::Number, Some(*i as f64))),
        Data::Float(f) => Some((format_number(*f), CellKind::Number, Some(*f))),
        Data::String(s) => text_cell(s),
        Data::Bool(b) => Some((bool_text(*b), CellKind::Bool, None)),
        Data::DateTime(d) => Some((format_excel_datetime(d), CellKind::Date, None)),
        Data::DateTimeIso(s) => Some((format_iso_datetime(s), CellKind::Date, None)),
        Data::DurationIso(s) => Some((format_iso_duration(s), CellKind::Date, None)),
        Data::Error(e) => Some((e.to_string(), CellKind::Error, None)),
    }
}

fn render_ref(v: &DataRef<'_>) -> Option<Rendered> {
    match v {
        DataRef::Empty => None,
        DataRef::Int(i) => Some((i.to_string(), CellKind::Number, Some(*i as f64))),
        DataRef::Float(f) => Some((format_number(*f), CellKind::Number, Some(*f))),
        DataRef::String(s) => text_cell(s),
        DataRef::SharedString(s) => text_cell(s),
        DataRef::Bool(b) => Some((bool_text(*b), CellKind::Bool, None)),
        DataRef::DateTime(d) => Some((format_excel_datetime(d), CellKind::Date, None)),
        DataRef::DateTimeIso(s) => Some((format_iso_datetime(s), CellKind::Date, None)),
        DataRef::DurationIso(s) => Some((format_iso_duration(s), CellKind::Date, None)),
        DataRef::Error(e) => Some((e.to_string(), CellKind::Error, None)),
    }
}

fn bool_text(b: bool) -> String {
    if b { "TRUE" } else { "FALSE" }.to_string()
}

/// A text cell, whitespace-normalised; blank text is an empty cell.
fn text_cell(s: &str) -> Option<Rendered> {
    // Most cells are short single words: avoid the allocation of normalising when the text
    // has nothing to normalise.
    let clean = if s.contains(char::is_whitespace) {
        super::normalize_ws(s)
    } else {
        s.to_string()
    };
    (!clean.is_empty()).then_some((clean, CellKind::Text, None))
}

/// A number as a spreadsheet shows it in a general-format cell: integers without a
/// fraction, others at 15 significant digits (Excel's precision, which hides binary noise
/// such as `0.1 + 0.2 = 0.30000000000000004`), huge and tiny ones in scientific notation.
pub(crate) fn format_number(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "#NUM!".into()
        } else {
            "#DIV/0!".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    let abs = f.abs();
    if f.fract() == 0.0 && abs < 1e15 {
        // Exact in an i64; integer formatting is far cheaper than float formatting.
        return (f as i64).to_string();
    }
    if (1e-9..1e15).contains(&abs) {
        // The shortest round-trip form is exact and cheap; most values (`6.4`, `0.25`) have
        // at most 15 significant digits and are done. Only binary noise needs rounding.
        let shortest = f.to_string();
        let significant = shortest
            .bytes()
            .filter(u8::is_ascii_digit)
            .skip_while(|&b| b == b'0')
            .count();
        if significant <= 15 {
            return shortest;
        }
    }
    // Round to 15 significant digits, then print the shortest form of the rounded value.
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if !(1e-9..1e15).contains(&abs) {
        let s = format!("{rounded:e}");
        return s.replace('e', "E");
    }
    let mut s = rounded.to_string();
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// `2026-03-01`, `2026-03-01 14:30`, `14:30` (a time without a date), or `36:15:00` (a
/// duration, which can exceed a day).
fn format_excel_datetime(d: &ExcelDateTime) -> String {
    let value = d.as_f64();
    if d.is_duration() {
        return format_duration_secs((value * 86_400.0).round());
    }
    if !value.is_finite() {
        return "#NUM!".into();
    }
    let days = value.floor();
    let mut secs = ((value - days) * 86_400.0).round() as u32;
    let mut day_value = days;
    if secs >= 86_400 {
        secs -= 86_400;
        day_value += 1.0;
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let time = if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    };
    if (0.0..1.0).contains(&value) {
        return time;
    }
    let date_of = |serial: f64, epoch_1904: bool| {
        let (y, mo, da, ..) =
            ExcelDateTime::new(serial, calamine::ExcelDateTimeType::DateTime, epoch_1904)
                .to_ymd_hms_milli();
        (y, mo, da)
    };
    // calamine keeps the workbook's epoch private; the date it computes for the cell tells
    // which one it used (the two epochs are 1462 days apart).
    let (y0, mo0, da0, ..) = d.to_ymd_hms_milli();
    let shown = (y0, mo0, da0);
    let epoch_1904 = date_of(days, false) != shown && date_of(days + 1.0, false) != shown;
    let (y, mo, da) = date_of(day_value, epoch_1904);
    if secs == 0 {
        format!("{y:04}-{mo:02}-{da:02}")
    } else {
        format!("{y:04}-{mo:02}-{da:02} {time}")
    }
}

fn format_duration_secs(total: f64) -> String {
    if !total.is_finite() {
        return "#NUM!".into();
    }
    let neg = total < 0.0;
    let t = total.abs() as u64;
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    format!("{}{h}:{m:02}:{s:02}", if neg { "-" } else { "" })
}

/// `2026-03-01T14:30:00` → `2026-03-01 14:30`; `2026-03-01T00:00:00` → `2026-03-01`.
fn format_iso_datetime(s: &str) -> String {
    let s = s.trim();
    let Some((date, time)) = s.split_once('T') else {
        return s.to_string();
    };
    // Drop fractional seconds and a zone suffix; spreadsheets show neither.
    let time = time.split(['.', 'Z', '+']).next().unwrap_or(time);
    let mut parts = time.split(':');
    let (h, m, sec) = (parts.next(), parts.next(), parts.next());
    match (h, m, sec) {
        (Some("00"), Some("00"), None | Some("00")) => date.to_string(),
        (Some(h), Some(m), None | Some("00")) => format!("{date} {h}:{m}"),
        _ => format!("{date} {time}"),
    }
}

/// ISO 8601 durations as ODS writes them (`PT14H30M00S`, `P1DT2H`) → `14:30:00`.
fn format_iso_duration(s: &str) -> String {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let Some(body) = t.strip_prefix('P') else {
        return s.to_string();
    };
    let mut secs = 0f64;
    let mut num = String::new();
    let mut in_time = false;
    for ch in body.chars() {
        match ch {
            'T' => in_time = true,
            '0'..='9' | '.' | ',' => num.push(if ch == ',' { '.' } else { ch }),
            unit => {
                let Ok(n) = num.parse::<f64>() else {
                    return s.to_string();
                };
                num.clear();
                secs += n * match (unit, in_time) {
                    ('D', false) => 86_400.0,
                    ('W', false) => 7.0 * 86_400.0,
                    ('H', true) => 3600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return s.to_string(),
                };
            }
        }
    }
    let secs = secs.round();
    format_duration_secs(if neg { -secs } else { secs })
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
pub(crate) fn column_letter(mut col: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The column names of a sheet: from a header row, or synthesized as `Column A`, ….
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    /// Index into the sheet's rows of the header row, if one was found.
    pub row: Option<usize>,
    /// Names by 0-based column, for the columns the header row names.
    names: Vec<(u32, String)>,
}

impl Header {
    /// The name of column `col`: the header's, else `Column X`.
    #[cfg(test)]
    fn name(&self, col: u32) -> String {
        match self.names.binary_search_by_key(&col, |(c, _)| *c) {
            Ok(i) => self.names[i].1.clone(),
            Err(_) => format!("Column {}", column_letter(col)),
        }
    }
}

/// Finds the header row: among the first rows (titles and notes may come first), the row
/// whose cells are mostly non-empty short distinct texts and whose columns hold values of
/// another type below it (numbers, dates, booleans under text labels). When several rows
/// qualify, the one over the purest data wins (rows of notes above a header sit over more
/// text), the earliest on a tie.
///
/// A text-only table ("Name, Email, City") has no type difference; there the first row
/// still counts when it has at least two distinct short labels none of which recurs in its
/// column below, and no label looks like data (an address, a URL).
pub(crate) fn detect_header(rows: &[Row]) -> Header {
    let mut best: Option<(usize, f64)> = None;
    for i in 0..rows.len().min(MAX_TITLE_ROWS + 1) {
        let end = rows.len().min(i + 1 + HEADER_SAMPLE_ROWS);
        let below = &rows[i + 1..end];
        if !header_shaped(&rows[i], below) {
            continue;
        }
        let score = type_difference(&rows[i], below);
        if score >= 0.5 && best.is_none_or(|(_, b)| score > b) {
            best = Some((i, score));
        }
    }
    let row = best.map(|(i, _)| i).or_else(|| {
        let below = &rows.get(1..rows.len().min(1 + HEADER_SAMPLE_ROWS))?;
        (header_shaped(&rows[0], below) && text_labels(&rows[0], below)).then_some(0)
    });
    Header {
        row,
        names: row.map_or_else(Vec::new, |i| {
            rows[i]
                .cells
                .iter()
                .map(|c| (c.col, c.text.clone()))
                .collect()
        }),
    }
}

/// Mostly short, distinct texts, naming at least half of the columns used below.
fn header_shaped(row: &Row, below: &[Row]) -> bool {
    if below.is_empty() {
        return false;
    }
    let texts = row
        .cells
        .iter()
        .filter(|c| c.kind == CellKind::Text)
        .count();
    if texts * 5 < row.cells.len() * 4 {
        return false;
    }
    if row
        .cells
        .iter()
        .any(|c| c.text.chars().count() > MAX_HEADER_CHARS)
    {
        return false;
    }
    let mut seen = HashSet::new();
    if !row.cells.iter().all(|c| seen.insert(c.text.to_lowercase())) {
        return false;
    }
    let data_cols: HashSet<u32> = below
        .iter()
        .flat_map(|r| r.cells.iter().map(|c| c.col))
        .collect();
    let named = row
        .cells
        .iter()
        .filter(|c| data_cols.contains(&c.col))
        .count();
    named > 0 && named * 2 >= data_cols.len()
}

/// For each text label, the share of non-text values in its column below; summed.
fn type_difference(row: &Row, below: &[Row]) -> f64 {
    row.cells
        .iter()
        .filter(|c| c.kind == CellKind::Text)
        .map(|h| {
            let (mut other, mut total) = (0usize, 0usize);
            for r in below {
                if let Some(c) = r.get(h.col) {
                    total += 1;
                    if c.kind != CellKind::Text {
                        other += 1;
                    }
                }
            }
            if total == 0 {
                0.0
            } else {
                other as f64 / total as f64
            }
        })
        .sum()
}

/// The text-only test: two or more short labels that never recur in their column below and
/// do not look like data.
fn text_labels(row: &Row, below: &[Row]) -> bool {
    row.cells.len() >= 2
        && row.cells.iter().all(|h| {
            h.kind == CellKind::Text
                && h.text.chars().count() <= 40
                && !h.text.contains('@')
                && !h.text.contains("://")
                && !below.iter().any(|r| {
                    r.get(h.col)
                        .is_some_and(|c| c.text.eq_ignore_ascii_case(&h.text))
                })
        })
}

/// Appends one block per row of `sheet`: data rows as `Header: value; …` table rows, title
/// rows above the header as paragraphs.
fn render_sheet(sheet: &SheetRows, blocks: &mut Vec<Block>) {
    let header = detect_header(&sheet.rows);
    let path = vec![sheet.name.clone()];
    for (i, row) in sheet.rows.iter().enumerate() {
        let (text, kind) = match header.row {
            Some(h) if i == h => continue,
            Some(h) if i < h => (
                row.cells
                    .iter()
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                BlockKind::Paragraph,
            ),
            _ => (render_row(&header, row), BlockKind::TableRow),
        };
        blocks.push(Block {
            heading_path: path.clone(),
            text,
            kind,
            location: Location {
                sheet: Some(sheet.name.clone()),
                row_start: Some(row.number),
                row_end: Some(row.number),
                ..Location::default()
            },
        });
    }
}

fn render_row(header: &Header, row: &Row) -> String {
    let mut out = String::new();
    for cell in &row.cells {
        if !out.is_empty() {
            out.push_str("; ");
        }
        match header.names.binary_search_by_key(&cell.col, |(c, _)| *c) {
            Ok(i) => out.push_str(&header.names[i].1),
            Err(_) => {
                let _ = write!(out, "Column {}", column_letter(cell.col));
            }
        }
        out.push_str(": ");
        out.push_str(&cell.text);
    }
    out
}

/// Delimiter sniffing result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sniff {
    pub delimiter: u8,
    /// The most common number of fields per record.
    pub fields: usize,
    /// Records looked at.
    pub records: usize,
    /// Records with exactly `fields` fields.
    pub consistent: usize,
}

/// Picks the delimiter among `, ; \t |` that splits the first records into the most
/// consistent number (≥ 2) of fields; `None` when none gives two or more fields.
pub(crate) fn sniff_delimiter(text: &str) -> Option<Sniff> {
    let mut sample = &text[..floor_char_boundary(text, SNIFF_BYTES)];
    if sample.len() < text.len() {
        // Drop the last, probably cut, line.
        if let Some(nl) = sample.rfind('\n') {
            sample = &sample[..nl];
        }
    }
    let mut best: Option<Sniff> = None;
    for &d in &DELIMITERS {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample.as_bytes());
        let mut counts: Vec<usize> = Vec::new();
        for rec in rdr.records().take(SNIFF_RECORDS) {
            match rec {
                Ok(r) => counts.push(r.len()),
                Err(_) => break,
            }
        }
        if counts.is_empty() {
            continue;
        }
        let mut freq: Vec<(usize, usize)> = Vec::new();
        for &c in &counts {
            match freq.iter_mut().find(|(n, _)| *n == c) {
                Some(e) => e.1 += 1,
                None => freq.push((c, 1)),
            }
        }
        // The mode; among equally common counts the larger one.
        let Some(&(fields, consistent)) = freq.iter().max_by_key(|&&(n, f)| (f, n)) else {
            continue;
        };
        if fields < 2 {
            continue;
        }
        let s = Sniff {
            delimiter: d,
            fields,
            records: counts.len(),
            consistent,
        };
        let better = match best {
            None => true,
            // Higher share of consistent records, then more fields.
            Some(b) => {
                let (l, r) = (s.consistent * b.records, b.consistent * s.records);
                l > r || (l == r && s.fields > b.fields)
            }
        };
        if better {
            best = Some(s);
        }
    }
    best
}

/// True when `text` is confidently delimited data: at least three records (five when there
/// are only two fields) that all split into the same number of fields, with short fields and
/// lines that do not read like sentences. Prose with commas and Markdown pipe tables fail.
pub(crate) fn looks_like_csv(text: &str) -> bool {
    let Some(s) = sniff_delimiter(text) else {
        return false;
    };
    let min_records = if s.fields == 2 { 5 } else { 3 };
    if s.records < min_records || s.consistent < s.records {
        return false;
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(SNIFF_RECORDS)
        .collect();
    if lines.is_empty() {
        return false;
    }
    let sentence_like = lines
        .iter()
        .filter(|l| l.ends_with(['.', '!', '?', ':']))
        .count();
    if sentence_like * 10 > lines.len() * 3 {
        return false;
    }
    if s.delimiter == b'|' && lines.iter().filter(|l| l.starts_with('|')).count() * 2 > lines.len()
    {
        return false;
    }
    let chars: usize = lines.iter().map(|l| l.chars().count()).sum();
    chars / (lines.len() * s.fields) <= 40
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Splits delimited text into rows with inferred cell kinds.
pub(crate) fn csv_rows(text: &str, sheet_name: &str, deadline: Deadline) -> Result<SheetRows> {
    let delimiter = sniff_delimiter(text).map_or(b',', |s| s.delimiter);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut number: u32 = 0;
    let mut ticker = deadline.ticker("csv");
    loop {
        ticker.tick()?;
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(Error::rejected(
                    Reason::Malformed,
                    format!("csv cannot be read after row {number}: {e}"),
                ))
            }
        }
        number = number.saturating_add(1);
        let cells: Vec<Cell> = record
            .iter()
            .enumerate()
            .filter_map(|(col, field)| {
                let (text, kind, value) = text_cell(field)?;
                let (kind, value) = match kind {
                    CellKind::Text => infer_kind(&text),
                    k => (k, value),
                };
                Some(Cell {
                    col: col as u32,
                    text,
                    kind,
                    number: value,
                })
            })
            .collect();
        if !cells.is_empty() {
            rows.push(Row { number, cells });
        }
    }
    Ok(SheetRows {
        name: sheet_name.to_string(),
        rows,
    })
}

/// The kind of a CSV field: numbers (with optional sign, thousands separators, currency
/// symbol or percent), ISO or slashed dates, booleans, else text.
pub(crate) fn infer_kind(s: &str) -> (CellKind, Option<f64>) {
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "true" | "false") {
        return (CellKind::Bool, None);
    }
    if looks_like_date(s) {
        return (CellKind::Date, None);
    }
    let core = s
        .trim_start_matches(['+', '-', '$', '€', '£', '¥'])
        .trim_end_matches(['%', '€'])
        .trim();
    if !core.is_empty()
        && core.starts_with(|c: char| c.is_ascii_digit())
        && core.ends_with(|c: char| c.is_ascii_digit())
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        // Decimal commas and thousands separators as in `1.299,90` or `1,299.90`.
        let (value, _) = super::catalog::parse_price(s);
        let value = value.map(|v| {
            if s.trim_start().starts_with('-') {
                -v.abs()
            } else {
                v
            }
        });
        return (CellKind::Number, value);
    }
    (CellKind::Text, None)
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    // 2026-03-01[ 14:30…]
    if b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
    {
        return b.len() == 10 || matches!(b[10], b' ' | b'T');
    }
    // 1/3/2026, 01/03/26, 01.03.2026
    let parts: Vec<&str> = s.split(['/', '.']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
        && parts[0].len() <= 2
        && parts[1].len() <= 2
        && matches!(parts[2].len(), 2 | 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time limit no test reaches.
    fn ample() -> Deadline {
        Deadline::after(std::time::Duration::from_secs(600))
    }

    fn parse_workbook(bytes: &[u8], format: Format) -> Result<Document> {
        super::parse_workbook(bytes, format, ample())
    }

    fn parse_csv(bytes: &[u8], sheet_name: &str) -> Result<Document> {
        super::parse_csv(bytes, sheet_name, ample())
    }
    use crate::parse::archive::tests::zip_of;
    use rust_xlsxwriter::{ExcelDateTime as XDate, Format as XFormat, Workbook};

    fn texts(doc: &Document) -> Vec<(String, String, u32)> {
        doc.blocks
            .iter()
            .map(|b| {
                (
                    b.location.sheet.clone().unwrap_or_default(),
                    b.text.clone(),
                    b.location.row_start.unwrap_or(0),
                )
            })
            .collect()
    }

    fn t(sheet: &str, text: &str, row: u32) -> (String, String, u32) {
        (sheet.to_string(), text.to_string(), row)
    }

    fn sample_xlsx() -> Vec<u8> {
        let mut wb = Workbook::new();
        let date = XFormat::new().set_num_format("yyyy-mm-dd");
        let datetime = XFormat::new().set_num_format("yyyy-mm-dd hh:mm");
        let ws = wb.add_worksheet().set_name("Coffee").unwrap();
        ws.write(0, 0, "Price list — March 2026").unwrap();
        for (c, h) in [
            "Code",
            "Product",
            "Price",
            "Weight",
            "Available from",
            "Organic",
        ]
        .iter()
        .enumerate()
        {
            ws.write(2, c as u16, *h).unwrap();
        }
        ws.write(3, 0, "BR-ANDES-250").unwrap();
        ws.write(3, 1, "Andes Sunrise").unwrap();
        ws.write(3, 2, 16).unwrap();
        ws.write(3, 3, 0.25).unwrap();
        ws.write_datetime_with_format(3, 4, XDate::from_ymd(2026, 3, 1).unwrap(), &date)
            .unwrap();
        ws.write(3, 5, true).unwrap();
        ws.write(4, 0, "BR-CERR-500").unwrap();
        ws.write(4, 1, "Cerrado   Dark\n(500 g)").unwrap();
        ws.write(4, 2, 0.1 + 0.2).unwrap();
        ws.write(4, 3, 1234567.891).unwrap();
        ws.write_datetime_with_format(
            4,
            4,
            XDate::from_ymd(2026, 4, 15)
                .unwrap()
                .and_hms(14, 30, 0)
                .unwrap(),
            &datetime,
        )
        .unwrap();
        ws.write(4, 5, false).unwrap();
        let ws2 = wb.add_worksheet().set_name("Notes").unwrap();
        ws2.write(0, 0, "Roasted on Mondays").unwrap();
        ws2.write(1, 1, "Shipped on Tuesdays").unwrap();
        wb.add_worksheet().set_name("Empty").unwrap();
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn xlsx_every_sheet_header_and_values_as_shown() {
        let doc = parse_workbook(&sample_xlsx(), Format::Xlsx).unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t("Coffee", "Price list — March 2026", 1),
                t(
                    "Coffee",
                    "Code: BR-ANDES-250; Product: Andes Sunrise; Price: 16; Weight: 0.25; \
                     Available from: 2026-03-01; Organic: TRUE",
                    4
                ),
                t(
                    "Coffee",
                    "Code: BR-CERR-500; Product: Cerrado Dark (500 g); Price: 0.3; \
                     Weight: 1234567.891; Available from: 2026-04-15 14:30; Organic: FALSE",
                    5
                ),
                t("Notes", "Column A: Roasted on Mondays", 1),
                t("Notes", "Column B: Shipped on Tuesdays", 2),
            ]
        );
        let b = &doc.blocks[1];
        assert_eq!(b.kind, BlockKind::TableRow);
        assert_eq!(b.heading_path, vec!["Coffee".to_string()]);
        assert_eq!(b.location.to_string(), "sheet Coffee, row 4");
        assert_eq!(doc.blocks[0].kind, BlockKind::Paragraph);
    }

    #[test]
    fn numbers_render_as_a_person_sees_them() {
        assert_eq!(format_number(16.0), "16");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(-2.5), "-2.5");
        assert_eq!(format_number(1234567.891), "1234567.891");
        assert_eq!(format_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_number(1e20), "1E20");
        assert_eq!(format_number(1.5e-12), "1.5E-12");
        assert_eq!(format_number(f64::NAN), "#NUM!");
        let dt = |v: f64| {
            format_excel_datetime(&ExcelDateTime::new(
                v,
                calamine::ExcelDateTimeType::DateTime,
                false,
            ))
        };
        assert_eq!(dt(46082.0), "2026-03-01");
        assert_eq!(dt(46082.0 + 14.5 / 24.0), "2026-03-01 14:30");
        assert_eq!(dt(46_082.999_999_99), "2026-03-02");
        assert_eq!(dt(0.75), "18:00");
        let dur = ExcelDateTime::new(1.5104166666, calamine::ExcelDateTimeType::TimeDelta, false);
        assert_eq!(format_excel_datetime(&dur), "36:15:00");
        assert_eq!(
            format_iso_datetime("2026-03-01T14:30:00"),
            "2026-03-01 14:30"
        );
        assert_eq!(format_iso_datetime("2026-03-01T00:00:00"), "2026-03-01");
        assert_eq!(format_iso_datetime("2026-03-01"), "2026-03-01");
        assert_eq!(format_iso_duration("PT14H30M00S"), "14:30:00");
        assert_eq!(format_iso_duration("P1DT2H"), "26:00:00");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn header_detection() {
        let row = |n: u32, cells: &[(&str, CellKind)]| Row {
            number: n,
            cells: cells
                .iter()
                .enumerate()
                .map(|(i, (t, k))| Cell {
                    col: i as u32,
                    text: t.to_string(),
                    kind: *k,
                    number: None,
                })
                .collect(),
        };
        use CellKind::*;
        // Types differ below the labels.
        let rows = vec![
            row(1, &[("Item", Text), ("Qty", Text)]),
            row(2, &[("Kettle", Text), ("3", Number)]),
        ];
        assert_eq!(detect_header(&rows).row, Some(0));
        // Text-only table with distinct labels.
        let rows = vec![
            row(1, &[("Name", Text), ("Email", Text)]),
            row(2, &[("Ana", Text), ("ana@x.example", Text)]),
        ];
        assert_eq!(detect_header(&rows).row, Some(0));
        // Data all the way down: no header, columns are synthesized.
        let rows = vec![
            row(1, &[("Ana", Text), ("ana@x.example", Text)]),
            row(2, &[("Bo", Text), ("bo@x.example", Text)]),
        ];
        let h = detect_header(&rows);
        assert_eq!(h.row, None);
        assert_eq!(h.name(1), "Column B");
        let rows = vec![
            row(1, &[("1", Number), ("2", Number)]),
            row(2, &[("3", Number), ("4", Number)]),
        ];
        assert_eq!(detect_header(&rows).row, None);
        // A single row is data, not a header.
        assert_eq!(detect_header(&rows[..1]).row, None);
    }

    #[test]
    fn empty_workbook_is_empty() {
        let mut wb = Workbook::new();
        wb.add_worksheet();
        wb.add_worksheet().set_name("Other").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let e = parse_workbook(&bytes, Format::Xlsx).unwrap_err();
        assert_eq!(e.to_string(), "empty: workbook contains no text");
        let e = parse_csv(b"\n,,\n,,\n", "Sheet1").unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Empty));
    }

    #[test]
    fn corrupted_and_wrong_containers() {
        let mut bytes = sample_xlsx();
        let len = bytes.len();
        bytes.truncate(len - 200);
        let e = parse_workbook(&bytes, Format::Xlsx).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Corrupted), "{e}");
        // A zip that is not a workbook.
        let zip = zip_of(&[("xl/workbook.xml", b"<not-a-workbook")]);
        let e = parse_workbook(&zip, Format::Xlsx).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Corrupted), "{e}");
        let e = parse_workbook(b"\xD0\xCF\x11\xE0 nope", Format::Xls).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Corrupted), "{e}");
    }

    #[test]
    fn encrypted_workbooks_are_password_protected() {
        use crate::parse::ole::tests::{cfb_with_streams, encrypted_xls};
        // OOXML encrypted with a password: an OLE2 container, refused at detection.
        let fake = cfb_with_streams(&["EncryptionInfo", "EncryptedPackage"]);
        let e =
            crate::parse::parse(&fake, Some("prices.xlsx"), &ParseOptions::default()).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::PasswordProtected));
        // Excel 97 with a FILEPASS record: found by calamine.
        let xls = encrypted_xls();
        let e =
            crate::parse::parse(&xls, Some("prices.xls"), &ParseOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "password-protected: xls workbook is protected with a password"
        );
    }

    #[test]
    fn mutated_workbooks_never_panic() {
        use std::io::Read;
        let original = sample_xlsx();
        let mut zip = zip::ZipArchive::new(Cursor::new(&original[..])).unwrap();
        let mut parts = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            parts.push((f.name().unwrap().to_string(), content));
        }
        let mut x = 0x9E37_79B9_u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize
        };
        for round in 0..120 {
            let mut mutated = parts.clone();
            let target = next() % mutated.len();
            let content = &mut mutated[target].1;
            if content.is_empty() {
                continue;
            }
            if round % 3 == 0 {
                let cut = next() % content.len();
                content.truncate(cut);
            } else {
                for _ in 0..4 {
                    let at = next() % content.len();
                    let alphabet = b"<>\"/=&;x0 9-";
                    content[at] = alphabet[next() % alphabet.len()];
                }
            }
            let entries: Vec<(&str, &[u8])> = mutated
                .iter()
                .map(|(n, c)| (n.as_str(), c.as_slice()))
                .collect();
            let bytes = zip_of(&entries);
            // Any outcome but a panic is fine.
            let _ = parse_workbook(&bytes, Format::Xlsx);
        }
    }

    #[test]
    fn a_workbook_whose_entry_lies_about_its_size_is_a_zip_bomb() {
        use crate::parse::archive::tests::patch_declared_size;
        use std::io::Read;
        // The sheet XML padded with 3 MiB of spaces inside an element, claiming 2,000 bytes:
        // the directory passes the checks, calamine's read trips over the lie.
        let original = sample_xlsx();
        let mut zip = zip::ZipArchive::new(Cursor::new(&original[..])).unwrap();
        let mut parts = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            let name = f.name().unwrap().to_string();
            if name == "xl/worksheets/sheet1.xml" {
                let at = content
                    .windows(11)
                    .position(|w| w == b"<sheetData>")
                    .unwrap();
                content.splice(at..at, std::iter::repeat_n(b' ', 3 << 20));
            }
            parts.push((name, content));
        }
        let entries: Vec<(&str, &[u8])> = parts
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        let mut bytes = zip_of(&entries);
        patch_declared_size(&mut bytes, 2000);
        let e = parse_workbook(&bytes, Format::Xlsx).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ZipBomb), "{e}");
    }

    /// A hand-written XLSX: each sheet is a name and the XML inside its `<sheetData>`.
    fn xlsx_of(sheets: &[(&str, &str)]) -> Vec<u8> {
        let mut book = String::from(
            r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>"#,
        );
        let mut rels = String::from(
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        );
        let mut parts = Vec::new();
        for (i, (name, data)) in sheets.iter().enumerate() {
            let n = i + 1;
            book.push_str(&format!(
                r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
            ));
            rels.push_str(&format!(
                r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#
            ));
            parts.push((
                format!("xl/worksheets/sheet{n}.xml"),
                format!(
                    r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>"#
                ),
            ));
        }
        book.push_str("</sheets></workbook>");
        rels.push_str("</Relationships>");
        parts.push(("xl/workbook.xml".into(), book));
        parts.push(("xl/_rels/workbook.xml.rels".into(), rels));
        parts.push((
            "_rels/.rels".into(),
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into(),
        ));
        let entries: Vec<(&str, &[u8])> = parts
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_bytes()))
            .collect();
        zip_of(&entries)
    }

    fn inline(r: &str, text: &str) -> String {
        format!(r#"<c r="{r}" t="inlineStr"><is><t>{text}</t></is></c>"#)
    }

    fn num(r: &str, v: &str) -> String {
        format!(r#"<c r="{r}" t="n"><v>{v}</v></c>"#)
    }

    #[test]
    fn an_unreadable_cell_is_left_out_not_its_sheet() {
        // Numbers written with a leading space (seen in a real workbook): calamine cannot
        // read them, and used to fail the whole sheet.
        let data = format!(
            r#"<row r="1">{}{}</row><row r="2">{}{}</row><row r="3">{}{}</row><row r="4">{}{}</row>"#,
            inline("A1", "Place"),
            inline("B1", "Stations"),
            inline("A2", "Fiji"),
            num("B2", " 41"),
            inline("A3", "Tonga"),
            num("B3", "15"),
            inline("A4", "Samoa"),
            num("B4", " 43"),
        );
        let doc = parse_workbook(&xlsx_of(&[("Quakes", &data)]), Format::Xlsx).unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t("Quakes", "Place: Fiji", 2),
                t("Quakes", "Place: Tonga; Stations: 15", 3),
                t("Quakes", "Place: Samoa", 4),
            ]
        );
        assert_eq!(doc.warnings.len(), 1, "{:?}", doc.warnings);
        assert!(
            doc.warnings[0]
                .starts_with("sheet Quakes: 2 cells could not be read and were left out ("),
            "{:?}",
            doc.warnings
        );
    }

    #[test]
    fn a_sheet_broken_halfway_keeps_the_rows_before_the_break() {
        let good = format!(
            r#"<row r="1">{}{}</row><row r="2">{}{}</row>"#,
            inline("A1", "Item"),
            inline("B1", "Price"),
            inline("A2", "Hand Grinder"),
            num("B2", "69.9"),
        );
        let broken = format!(r#"{good}<row r="3"><c r="A3" t="n"><v>1</v></x></row>"#);
        let bytes = xlsx_of(&[("Prices", &broken), ("Notes", &good)]);
        let doc = parse_workbook(&bytes, Format::Xlsx).unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t("Prices", "Item: Hand Grinder; Price: 69.9", 2),
                t("Notes", "Item: Hand Grinder; Price: 69.9", 2),
            ]
        );
        assert_eq!(doc.warnings.len(), 1, "{:?}", doc.warnings);
        assert!(
            doc.warnings[0].starts_with("sheet Prices is damaged after row 2: "),
            "{:?}",
            doc.warnings
        );
        assert!(doc.warnings[0].ends_with("; the rows before it are kept"));
        // Broken before its first row, a sheet is one that could not be read.
        let bytes = xlsx_of(&[
            ("Prices", r#"<row r="1"><c r="A1"></x></row>"#),
            ("Notes", &good),
        ]);
        let doc = parse_workbook(&bytes, Format::Xlsx).unwrap();
        assert_eq!(texts(&doc).len(), 1);
        assert!(
            doc.warnings[0].starts_with("sheet Prices could not be read: "),
            "{:?}",
            doc.warnings
        );
    }

    #[test]
    fn csv_sheet_is_named_after_the_file() {
        let (format, doc) = crate::parse::parse(
            b"sku,price\nBK-200,89\n",
            Some("exports/prices.csv"),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(format, Format::Csv);
        assert_eq!(doc.blocks[0].location.to_string(), "sheet prices, row 2");
        assert_eq!(csv_sheet_name("C:\\data\\.csv"), "Sheet1");
    }

    #[test]
    fn zip_bomb_workbook_is_refused_before_parsing() {
        let zeros = vec![b' '; 16 << 20];
        let bytes = zip_of(&[
            ("xl/workbook.xml", b"<workbook/>"),
            ("xl/worksheets/sheet1.xml", &zeros),
        ]);
        let e = parse_workbook(&bytes, Format::Xlsx).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ZipBomb), "{e}");
    }

    /// A minimal hand-written ODS: mimetype, manifest, content with two tables.
    fn sample_ods() -> Vec<u8> {
        let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="Equipment"><table:table-row><table:table-cell office:value-type="string"><text:p>Item</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Price</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Since</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>Pour-Over Kettle</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="89"><text:p>89</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2026-03-01"><text:p>01/03/26</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>Hand Grinder</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="69.9"><text:p>69.9</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2026-03-01T09:15:00"><text:p>x</text:p></table:table-cell></table:table-row></table:table><table:table table:name="Blank"><table:table-row><table:table-cell/></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
        let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#;
        zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("META-INF/manifest.xml", manifest.as_bytes()),
            ("content.xml", content.as_bytes()),
        ])
    }

    #[test]
    fn ods_sheets_rows_and_dates() {
        let bytes = sample_ods();
        assert_eq!(crate::parse::detect(&bytes, None).unwrap(), Format::Ods);
        let doc = parse_workbook(&bytes, Format::Ods).unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t(
                    "Equipment",
                    "Item: Pour-Over Kettle; Price: 89; Since: 2026-03-01",
                    2
                ),
                t(
                    "Equipment",
                    "Item: Hand Grinder; Price: 69.9; Since: 2026-03-01 09:15",
                    3
                ),
            ]
        );
        // A sheet calamine builds whole is checked against the time limit once it is built.
        let e = super::parse_workbook(
            &bytes,
            Format::Ods,
            Deadline::after(std::time::Duration::ZERO),
        )
        .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ParseTimeout), "{e}");
        assert!(e.to_string().contains("ods workbook reading"), "{e}");
    }

    #[test]
    fn csv_semicolon_latin1() {
        let text = "Producto;Precio;Origen\nCafé Andes;16,00;Huila\n\"Volcán; descafeinado\";17,50;Nariño\n";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let doc = parse_csv(&latin1, "precios").unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t(
                    "precios",
                    "Producto: Café Andes; Precio: 16,00; Origen: Huila",
                    2
                ),
                t(
                    "precios",
                    "Producto: Volcán; descafeinado; Precio: 17,50; Origen: Nariño",
                    3
                ),
            ]
        );
        assert_eq!(doc.blocks[0].heading_path, vec!["precios".to_string()]);
        assert_eq!(
            doc.warnings,
            vec!["text is not utf-8: decoded as windows-1252".to_string()]
        );
    }

    #[test]
    fn tsv_and_headerless_csv() {
        let doc = CSV
            .parse(
                b"sku\tstock\nBK-200\t12\nHG-50\t0\n",
                &ParseOptions::default(),
            )
            .unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t("Sheet1", "sku: BK-200; stock: 12", 2),
                t("Sheet1", "sku: HG-50; stock: 0", 3)
            ]
        );
        let doc = parse_csv(b"1,2,3\n4,,6\n", "Sheet1").unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                t("Sheet1", "Column A: 1; Column B: 2; Column C: 3", 1),
                t("Sheet1", "Column A: 4; Column C: 6", 2),
            ]
        );
    }

    #[test]
    fn delimiter_sniffing_and_csv_detection() {
        assert_eq!(
            sniff_delimiter("a;b\n1,5;2\n3,5;4\n").unwrap().delimiter,
            b';'
        );
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n").unwrap().delimiter, b'|');
        assert_eq!(
            sniff_delimiter("a\tb, c\n1\t2, 3\n").unwrap().delimiter,
            b'\t'
        );
        assert!(sniff_delimiter("just words\nmore words\n").is_none());
        assert!(looks_like_csv(
            "id,name,price\n1,Kettle,89\n2,Grinder,69\n3,Dripper,22\n"
        ));
        assert!(!looks_like_csv(
            "Hello, world.\nI went home, then slept.\nYes, sure.\n"
        ));
        assert!(!looks_like_csv("a,b\n1,2\n"));
        assert!(!looks_like_csv(
            "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n"
        ));
        assert!(!looks_like_csv(
            "We ship to Chile, Peru and Brazil within ten business days of the order\n\
             Returns are accepted within thirty days, no questions asked by our team\n\
             Our roastery is open Monday to Friday, from nine in the morning to five pm\n"
        ));
    }
}

//! Just enough of the OLE2 compound file format (CFB) to list the stream names.
//!
//! Legacy Office files (`.xls`, `.doc`, `.ppt`) and *password-protected OOXML* files
//! (an encrypted `.docx`/`.xlsx` is a CFB container with `EncryptionInfo` and
//! `EncryptedPackage` streams) all start with the same magic number; only the names of the
//! streams inside tell them apart. Detection needs nothing more, so this walks the FAT chain
//! of the directory and reads the names, with every index bounds-checked and every chain
//! bounded by the file's sector count, so a crafted file can neither panic nor loop.

use crate::error::{Error, Reason, Result};

pub const MAGIC: &[u8; 8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FREE_SECT: u32 = 0xFFFF_FFFF;
const HEADER_DIFAT_ENTRIES: usize = 109;
const DIR_ENTRY_LEN: usize = 128;

/// The names of all storages and streams in a compound file, in directory order.
///
/// Errors: [`Reason::Corrupted`] when the header or the directory cannot be read.
pub fn stream_names(bytes: &[u8]) -> Result<Vec<String>> {
    let cfb = Cfb::new(bytes).ok_or_else(corrupted)?;
    cfb.names().ok_or_else(corrupted)
}

fn corrupted() -> Error {
    Error::rejected(
        Reason::Corrupted,
        "legacy office document (ole2 container) is corrupted",
    )
}

struct Cfb<'a> {
    bytes: &'a [u8],
    sector_size: usize,
    fat: Vec<u32>,
    first_dir_sector: u32,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Cfb<'a> {
    fn new(bytes: &'a [u8]) -> Option<Self> {
        if !bytes.starts_with(MAGIC) || bytes.len() < 512 {
            return None;
        }
        let shift = u16_at(bytes, 0x1E)?;
        if !(7..=16).contains(&shift) {
            return None;
        }
        let sector_size = 1usize << shift;
        let mut cfb = Cfb {
            bytes,
            sector_size,
            fat: Vec::new(),
            first_dir_sector: u32_at(bytes, 0x30)?,
        };
        let fat_sectors = cfb.fat_sector_list()?;
        let per_sector = sector_size / 4;
        for s in fat_sectors {
            let Some(data) = cfb.sector(s) else {
                continue;
            };
            cfb.fat
                .extend((0..per_sector).filter_map(|i| u32_at(data, i * 4)));
        }
        Some(cfb)
    }

    /// How many sectors the file can hold: the bound on every chain walk.
    fn max_sectors(&self) -> usize {
        self.bytes.len() / self.sector_size + 1
    }

    fn sector(&self, n: u32) -> Option<&'a [u8]> {
        let start = (n as usize).checked_add(1)?.checked_mul(self.sector_size)?;
        // The last sector of a file may be short; take what there is.
        let end = start.checked_add(self.sector_size)?.min(self.bytes.len());
        self.bytes.get(start..end).filter(|s| !s.is_empty())
    }

    /// The FAT's sectors: up to 109 listed in the header, the rest in the DIFAT chain.
    fn fat_sector_list(&self) -> Option<Vec<u32>> {
        let count = u32_at(self.bytes, 0x2C)? as usize;
        let count = count.min(self.max_sectors());
        let mut out: Vec<u32> = (0..HEADER_DIFAT_ENTRIES)
            .filter_map(|i| u32_at(self.bytes, 0x4C + i * 4))
            .filter(|&s| s != FREE_SECT && s != END_OF_CHAIN)
            .take(count)
            .collect();
        let mut next = u32_at(self.bytes, 0x44)?;
        let per_sector = self.sector_size / 4 - 1;
        let mut guard = self.max_sectors();
        while out.len() < count && next != END_OF_CHAIN && next != FREE_SECT && guard > 0 {
            guard -= 1;
            let data = self.sector(next)?;
            out.extend(
                (0..per_sector)
                    .filter_map(|i| u32_at(data, i * 4))
                    .filter(|&s| s != FREE_SECT)
                    .take(count - out.len()),
            );
            next = u32_at(data, per_sector * 4)?;
        }
        Some(out)
    }

    fn names(&self) -> Option<Vec<String>> {
        let mut names = Vec::new();
        let mut sector = self.first_dir_sector;
        let mut guard = self.max_sectors();
        while sector != END_OF_CHAIN && guard > 0 {
            guard -= 1;
            let data = self.sector(sector)?;
            for entry in data.chunks_exact(DIR_ENTRY_LEN) {
                let kind = entry[0x42];
                // 1 storage, 2 stream, 5 root; 0 is an unused slot.
                if !matches!(kind, 1 | 2) {
                    continue;
                }
                let len = (u16_at(entry, 0x40)? as usize).min(64);
                let units: Vec<u16> = entry[..len]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                names.push(String::from_utf16_lossy(&units));
            }
            sector = *self.fat.get(sector as usize)?;
        }
        if names.is_empty() && guard == self.max_sectors() {
            return None;
        }
        Some(names)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid compound file (512-byte sectors) holding empty streams with `names`.
    pub(crate) fn cfb_with_streams(names: &[&str]) -> Vec<u8> {
        let streams: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, &b""[..])).collect();
        cfb_with(&streams)
    }

    /// A compound file with streams of the given content: header, one FAT sector (sector 0),
    /// one directory sector (sector 1), then each stream's sectors. Contents must be empty or
    /// at least 4096 bytes (smaller streams would belong in the mini stream, not built here).
    pub(crate) fn cfb_with(streams: &[(&str, &[u8])]) -> Vec<u8> {
        assert!(streams.len() <= 3, "one directory sector holds 4 entries");
        let sectors: Vec<usize> = streams.iter().map(|(_, c)| c.len().div_ceil(512)).collect();
        assert!(streams.iter().all(|(_, c)| c.is_empty() || c.len() >= 4096));
        assert!(2 + sectors.iter().sum::<usize>() <= 128, "one FAT sector");
        let mut b = vec![0u8; 512 * (3 + sectors.iter().sum::<usize>())];
        b[..8].copy_from_slice(MAGIC);
        b[0x18..0x1A].copy_from_slice(&0x3Eu16.to_le_bytes()); // minor version
        b[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes()); // major version 3
        b[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes()); // little endian
        b[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes()); // 512-byte sectors
        b[0x20..0x22].copy_from_slice(&6u16.to_le_bytes()); // 64-byte mini sectors
        b[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes()); // one FAT sector
        b[0x30..0x34].copy_from_slice(&1u32.to_le_bytes()); // directory at sector 1
        b[0x38..0x3C].copy_from_slice(&4096u32.to_le_bytes()); // mini stream cutoff
        b[0x3C..0x40].copy_from_slice(&END_OF_CHAIN.to_le_bytes()); // no mini FAT
        b[0x44..0x48].copy_from_slice(&END_OF_CHAIN.to_le_bytes()); // no DIFAT sectors
        for i in 0..HEADER_DIFAT_ENTRIES {
            let v: u32 = if i == 0 { 0 } else { FREE_SECT };
            b[0x4C + i * 4..0x50 + i * 4].copy_from_slice(&v.to_le_bytes());
        }
        // FAT (sector 0 at offset 512): sector 0 is a FAT sector, sector 1 ends its chain,
        // then each stream's chain.
        let mut fat = vec![FREE_SECT; 128];
        fat[0] = 0xFFFF_FFFD;
        fat[1] = END_OF_CHAIN;
        let mut next = 2usize;
        let mut starts = Vec::new();
        for (n, (_, content)) in sectors.iter().zip(streams) {
            if *n == 0 {
                starts.push(END_OF_CHAIN);
                continue;
            }
            starts.push(next as u32);
            for k in 0..*n {
                fat[next + k] = if k + 1 == *n {
                    END_OF_CHAIN
                } else {
                    (next + k + 1) as u32
                };
            }
            let at = 512 * (next + 1);
            b[at..at + content.len()].copy_from_slice(content);
            next += n;
        }
        for (i, v) in fat.iter().enumerate() {
            b[512 + i * 4..516 + i * 4].copy_from_slice(&v.to_le_bytes());
        }
        // Directory (sector 1 at offset 1024): the root, then one stream per name, chained
        // as right siblings of each other under the root.
        let dir = 1024;
        let mut put = |slot: usize, name: &str, kind: u8, start: u32, size: usize| {
            let e = dir + slot * DIR_ENTRY_LEN;
            let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
            for (i, u) in units.iter().enumerate() {
                b[e + i * 2..e + i * 2 + 2].copy_from_slice(&u.to_le_bytes());
            }
            b[e + 0x40..e + 0x42].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
            b[e + 0x42] = kind;
            b[e + 0x43] = 1; // black
            let none = FREE_SECT.to_le_bytes();
            b[e + 0x44..e + 0x48].copy_from_slice(&none); // left sibling
            b[e + 0x48..e + 0x4C].copy_from_slice(&none); // right sibling
            b[e + 0x4C..e + 0x50].copy_from_slice(&none); // child
            b[e + 0x74..e + 0x78].copy_from_slice(&start.to_le_bytes());
            b[e + 0x78..e + 0x7C].copy_from_slice(&(size as u32).to_le_bytes());
        };
        put(0, "Root Entry", 5, END_OF_CHAIN, 0);
        for (i, ((name, content), start)) in streams.iter().zip(&starts).enumerate() {
            put(i + 1, name, 2, *start, content.len());
        }
        // The root's child is the first stream; each stream's right sibling is the next.
        let link = |b: &mut Vec<u8>, slot: usize, field: usize, to: u32| {
            let e = dir + slot * DIR_ENTRY_LEN + field;
            b[e..e + 4].copy_from_slice(&to.to_le_bytes());
        };
        if !streams.is_empty() {
            link(&mut b, 0, 0x4C, 1);
        }
        for i in 1..streams.len() {
            link(&mut b, i, 0x48, (i + 1) as u32);
        }
        b
    }

    /// An Excel 97 workbook stream that starts with BOF and FILEPASS (RC4 encryption), padded
    /// to 4096 bytes.
    pub(crate) fn encrypted_xls() -> Vec<u8> {
        let mut s = Vec::new();
        let mut record = |typ: u16, data: &[u8]| {
            s.extend_from_slice(&typ.to_le_bytes());
            s.extend_from_slice(&(data.len() as u16).to_le_bytes());
            s.extend_from_slice(data);
        };
        let mut bof = vec![0u8; 16];
        bof[..2].copy_from_slice(&0x0600u16.to_le_bytes());
        bof[2..4].copy_from_slice(&0x0005u16.to_le_bytes());
        record(0x0809, &bof);
        record(0x002F, &[1, 0, 1, 0, 1, 0]);
        record(0x000A, &[]);
        s.resize(4096, 0);
        cfb_with(&[("Workbook", &s)])
    }

    #[test]
    fn lists_stream_names() {
        let b = cfb_with_streams(&["EncryptionInfo", "EncryptedPackage"]);
        assert_eq!(
            stream_names(&b).unwrap(),
            vec!["EncryptionInfo".to_string(), "EncryptedPackage".to_string()]
        );
    }

    #[test]
    fn broken_containers_are_corrupted_not_panics() {
        let b = cfb_with_streams(&["Workbook"]);
        for cut in [8, 100, 511, 600, 1030] {
            let r = stream_names(&b[..cut]);
            if let Err(e) = r {
                assert_eq!(e.reason(), Some(Reason::Corrupted));
            }
        }
        // A directory chain that loops on itself terminates.
        let mut looped = b.clone();
        looped[512 + 4..512 + 8].copy_from_slice(&1u32.to_le_bytes());
        assert!(stream_names(&looped)
            .unwrap()
            .contains(&"Workbook".to_string()));
        let mut x = 0x1234_5678_u32;
        for _ in 0..200 {
            let mut fuzzed = b.clone();
            for _ in 0..20 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = (x as usize) % fuzzed.len();
                fuzzed[at] = (x >> 8) as u8;
            }
            let _ = stream_names(&fuzzed);
        }
    }
}

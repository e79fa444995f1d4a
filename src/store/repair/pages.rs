//! The database file read page by page, without SQLite (https://www.sqlite.org/fileformat2.html,
//! "B-tree Pages"): what a repair reads when SQLite stops at the first damaged page. Modelled on
//! SQLite's recovery extension (`ext/recover/sqlite3recover.c`): b-trees are walked from their
//! roots past unreadable pages, then every page no walk reached is read on its own.

use super::record;
use std::collections::HashSet;

/// A b-tree page's kind (its first byte).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// 0x05: rowids and child pointers, no rows.
    TableInterior,
    /// 0x0D: rows of a rowid table.
    TableLeaf,
    /// 0x02: keys (rows of a WITHOUT ROWID table, or index entries) and child pointers.
    IndexInterior,
    /// 0x0A: keys.
    IndexLeaf,
}

/// One cell's content: its rowid (table b-trees) and its whole payload, overflow included.
pub struct Cell {
    pub rowid: Option<i64>,
    pub payload: Vec<u8>,
}

/// A parsed page: its kind, the child pages it points to, and its cells that hold a payload.
pub struct Page {
    pub kind: Kind,
    pub children: Vec<u32>,
    pub cells: Vec<Cell>,
}

/// The bytes of a database file, cut into pages.
pub struct Image {
    bytes: Vec<u8>,
    page_size: usize,
    usable: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The page size the header names, if it names a valid one.
pub fn header_page_size(bytes: &[u8]) -> Option<usize> {
    let n = match be16(bytes, 16)? {
        1 => 65536,
        n => n,
    };
    (n.is_power_of_two() && (512..=65536).contains(&n)).then_some(n)
}

impl Image {
    /// Cuts `bytes` into pages of the size the header names or, when the header is damaged, of
    /// the size under which the most pages read as b-tree pages.
    pub fn new(bytes: Vec<u8>) -> Image {
        let named = header_page_size(&bytes).filter(|n| bytes.len() % n == 0);
        let page_size = named.unwrap_or_else(|| {
            let score = |size: usize| {
                let probe = Image {
                    bytes: Vec::new(),
                    page_size: size,
                    usable: size,
                };
                (1..bytes.len() / size)
                    .filter(|i| probe.parse(&bytes[i * size..(i + 1) * size], 0).is_some())
                    .count()
            };
            (9..=16)
                .map(|p| 1usize << p)
                .filter(|s| bytes.len() % s == 0)
                .max_by_key(|s| (score(*s), *s == 4096))
                .unwrap_or(4096)
        });
        let reserved = if named.is_some() {
            usize::from(bytes[20])
        } else {
            0
        };
        Image {
            usable: page_size - reserved.min(page_size / 2),
            page_size,
            bytes,
        }
    }

    /// The page size used.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// How many pages the file holds.
    pub fn page_count(&self) -> u32 {
        (self.bytes.len() / self.page_size) as u32
    }

    fn raw(&self, n: u32) -> Option<&[u8]> {
        let start = (n as usize).checked_sub(1)? * self.page_size;
        self.bytes.get(start..start + self.page_size)
    }

    /// Page `n` (from 1) parsed as a b-tree page, or `None` when it is not a readable one.
    pub fn page(&self, n: u32) -> Option<Page> {
        self.parse(self.raw(n)?, if n == 1 { 100 } else { 0 })
    }

    fn parse(&self, page: &[u8], header: usize) -> Option<Page> {
        let kind = match *page.get(header)? {
            0x05 => Kind::TableInterior,
            0x0D => Kind::TableLeaf,
            0x02 => Kind::IndexInterior,
            0x0A => Kind::IndexLeaf,
            _ => return None,
        };
        let interior = matches!(kind, Kind::TableInterior | Kind::IndexInterior);
        let count = be16(page, header + 3)?;
        let content_start = be16(page, header + 5)?;
        let pointers = header + if interior { 12 } else { 8 };
        if pointers + 2 * count > self.usable
            || (content_start != 0 && content_start < pointers + 2 * count)
        {
            return None;
        }
        let mut page_out = Page {
            kind,
            children: Vec::new(),
            cells: Vec::new(),
        };
        let max_page = self.page_count().max(1);
        let child = |at| be32(page, at).filter(|c| (2..=max_page).contains(c));
        for i in 0..count {
            let at = be16(page, pointers + 2 * i)?;
            if at < pointers + 2 * count || at >= self.usable {
                return None;
            }
            if interior {
                page_out.children.push(child(at)?);
            }
            let cell = match kind {
                Kind::TableInterior => continue,
                Kind::TableLeaf => {
                    let (len, a) = record::varint(page, at)?;
                    let (rowid, b) = record::varint(page, at + a)?;
                    self.payload(page, at + a + b, len, true).map(|p| Cell {
                        rowid: Some(rowid as i64),
                        payload: p,
                    })
                }
                Kind::IndexLeaf | Kind::IndexInterior => {
                    let at = at + if interior { 4 } else { 0 };
                    let (len, a) = record::varint(page, at)?;
                    self.payload(page, at + a, len, false).map(|p| Cell {
                        rowid: None,
                        payload: p,
                    })
                }
            };
            // A cell whose overflow chain is broken is lost; the page's other cells are not.
            page_out.cells.extend(cell);
        }
        if interior {
            page_out.children.push(child(header + 8)?);
        }
        Some(page_out)
    }

    /// The payload of `len` bytes starting at `at` in `page`, with its overflow pages.
    fn payload(&self, page: &[u8], at: usize, len: u64, table: bool) -> Option<Vec<u8>> {
        let len = usize::try_from(len).ok().filter(|l| *l <= 1 << 30)?;
        let u = self.usable;
        let max_local = if table {
            u - 35
        } else {
            (u - 12) * 64 / 255 - 23
        };
        let min_local = (u - 12) * 32 / 255 - 23;
        let local = if len <= max_local {
            len
        } else {
            let k = min_local + (len - min_local) % (u - 4);
            if k <= max_local {
                k
            } else {
                min_local
            }
        };
        let mut out = page.get(at..at + local)?.to_vec();
        if local == len {
            return Some(out);
        }
        let mut next = be32(page, at + local)?;
        let mut seen = HashSet::new();
        while out.len() < len {
            if !seen.insert(next) {
                return None;
            }
            let p = self.raw(next).filter(|_| next >= 2)?;
            let take = (len - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take)?);
            next = be32(p, 0)?;
        }
        Some(out)
    }

    /// The pages on the free list (trunks and leaves), as far as it can be followed.
    pub fn free_pages(&self) -> HashSet<u32> {
        let mut free = HashSet::new();
        let mut trunk = be32(&self.bytes, 32).unwrap_or(0);
        while trunk >= 2 && trunk <= self.page_count() && free.insert(trunk) {
            let Some(p) = self.raw(trunk) else { break };
            let count = be32(p, 4).unwrap_or(0) as usize;
            for i in 0..count.min(self.usable / 4 - 2) {
                if let Some(leaf) =
                    be32(p, 8 + 4 * i).filter(|l| (2..=self.page_count()).contains(l))
                {
                    free.insert(leaf);
                }
            }
            trunk = be32(p, 0).unwrap_or(0);
        }
        free
    }
}

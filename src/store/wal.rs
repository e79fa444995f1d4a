//! Reading SQLite's write-ahead log (the `-wal` file) to find damage before SQLite replays it.
//!
//! Format (<https://www.sqlite.org/fileformat2.html#walformat>, SQLite's `src/wal.c`): a 32-byte
//! header (magic, version 3007000, page size, checkpoint sequence, salt-1, salt-2, checksum of
//! the first 24 bytes), then frames of a 24-byte header (page number, database size after commit
//! or 0, salt-1, salt-2, cumulative checksum) and one page. Integers are big-endian; the
//! checksum runs over 32-bit words whose byte order the magic's low bit gives (1: big-endian).
//! Each frame's checksum continues from the previous one's, starting from the header's.
//!
//! SQLite replays frames up to the first one that fails (other salts, page 0, checksum) and
//! keeps the transactions committed before it. After a crash that first failing frame is a torn
//! tail: the last transaction, never committed, and nothing after it. A frame of the current
//! generation (the header's salts) that fails *with committed transactions after it* is damage:
//! those transactions would silently vanish. They are found by checking each frame against the
//! checksum stored in the previous frame's header ("resyncing" the chain past a damaged frame).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;
const VERSION: u32 = 3_007_000;
const HEADER_LEN: usize = 32;
const FRAME_HEADER_LEN: usize = 24;

/// What a scan of a WAL file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalScan {
    /// Page size from the header (or the database's, when the header is damaged).
    pub page_size: u32,
    /// Whole frames in the file.
    pub frames: u32,
    /// Transactions SQLite will replay (commit frames before the first failing frame).
    pub replayed_commits: u32,
    /// Damage that hides committed transactions from SQLite, if any.
    pub damage: Option<WalDamage>,
}

/// Committed transactions of the current WAL generation that SQLite would not replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalDamage {
    /// 1-based number of the first frame that fails its check (0: the WAL header itself).
    pub first_bad_frame: u32,
    /// Transactions committed at or after that frame: what SQLite's replay loses.
    pub lost_commits: u32,
    /// The salts of the generation, which name it (a copy of the same damage is kept once).
    pub salts: [u32; 2],
}

/// The latest image of each page written by committed transactions after the damage: what
/// `check --repair` can still recover rows from (see [`pages_after_damage`]).
#[derive(Debug, Clone, Default)]
pub struct SalvagedPages {
    /// Page size in bytes.
    pub page_size: u32,
    /// Database size in pages after the last committed transaction found.
    pub db_pages: u32,
    /// Page number → its newest committed image.
    pub pages: BTreeMap<u32, Vec<u8>>,
}

struct Frame {
    page: u32,
    commit: u32,
    salts: [u32; 2],
    /// The checksum computed from the previous frame's stored checksum matches this one's.
    self_consistent: bool,
    /// SQLite accepts this frame: it and every frame before it pass with the true running
    /// checksum (not the stored one) and the header's salts.
    sqlite_ok: bool,
    /// The page, kept only for [`pages_after_damage`] (a WAL can be large).
    data: Option<Vec<u8>>,
}

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// SQLite's WAL checksum (`walChecksumBytes`): pairs of 32-bit words, Fibonacci-weighted.
fn checksum(big_endian: bool, bytes: &[u8], seed: [u32; 2]) -> [u32; 2] {
    let [mut s0, mut s1] = seed;
    for pair in bytes.chunks_exact(8) {
        let word = |w: &[u8]| {
            let w = [w[0], w[1], w[2], w[3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    [s0, s1]
}

fn frame_checksum(big_endian: bool, header: &[u8], data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    checksum(big_endian, data, checksum(big_endian, &header[..8], seed))
}

fn valid_page_size(n: u32) -> bool {
    (512..=65536).contains(&n) && n.is_power_of_two()
}

/// Page size of the database file `db` from its header (bytes 16-17; 1 means 65536).
fn db_page_size(db: &Path) -> Option<u32> {
    let mut h = [0u8; 18];
    std::fs::File::open(db).ok()?.read_exact(&mut h).ok()?;
    let n = u16::from_be_bytes([h[16], h[17]]) as u32;
    let n = if n == 1 { 65536 } else { n };
    valid_page_size(n).then_some(n)
}

/// Parsed header and frames; `None` when the file holds no frame to judge.
struct Parsed {
    page_size: u32,
    header_ok: bool,
    header_salts: [u32; 2],
    frames: Vec<Frame>,
}

fn parse(wal: &Path, db: &Path, keep_pages: bool) -> std::io::Result<Option<Parsed>> {
    let mut file = std::io::BufReader::new(std::fs::File::open(wal)?);
    let mut h = [0u8; HEADER_LEN];
    if file.read_exact(&mut h).is_err() {
        return Ok(None);
    }
    let magic = be(&h, 0);
    let big_endian = magic & 1 == 1;
    let header_page = be(&h, 8);
    let header_sane = (magic == MAGIC_LE || magic == MAGIC_BE) && be(&h, 4) == VERSION;
    let page_size = match (
        header_sane && valid_page_size(header_page),
        db_page_size(db),
    ) {
        (true, _) => header_page,
        (false, Some(n)) => n,
        (false, None) => return Ok(None),
    };
    let stored = [be(&h, 24), be(&h, 28)];
    let header_ok =
        header_sane && header_page == page_size && checksum(big_endian, &h[..24], [0, 0]) == stored;
    let mut frames = Vec::new();
    let mut previous = stored;
    let (mut running, mut accepted) = (stored, header_ok);
    let mut buf = vec![0u8; FRAME_HEADER_LEN + page_size as usize];
    while file.read_exact(&mut buf).is_ok() {
        let (fh, data) = buf.split_at(FRAME_HEADER_LEN);
        let frame_stored = [be(fh, 16), be(fh, 20)];
        let salts = [be(fh, 8), be(fh, 12)];
        if accepted {
            // SQLite's own rule: the true running checksum, from the header on.
            running = frame_checksum(big_endian, fh, data, running);
            accepted =
                salts == [be(&h, 16), be(&h, 20)] && be(fh, 0) != 0 && running == frame_stored;
        }
        frames.push(Frame {
            page: be(fh, 0),
            commit: be(fh, 4),
            salts,
            self_consistent: frame_checksum(big_endian, fh, data, previous) == frame_stored,
            sqlite_ok: accepted,
            data: keep_pages.then(|| data.to_vec()),
        });
        previous = frame_stored;
    }
    Ok(Some(Parsed {
        page_size,
        header_ok,
        header_salts: [be(&h, 16), be(&h, 20)],
        frames,
    }))
}

impl Parsed {
    /// Number of leading frames SQLite accepts (its replay stops at the first that fails).
    fn sqlite_prefix(&self) -> usize {
        self.frames.iter().take_while(|f| f.sqlite_ok).count()
    }

    /// The current generation's salts: the header's; with a damaged header, the first
    /// frame's, but only if the header's salt bytes agree with them (else the frames may be
    /// an older generation under a torn new header: not damage).
    fn generation(&self) -> Option<[u32; 2]> {
        match (self.header_ok, self.frames.first()) {
            (true, _) => Some(self.header_salts),
            (false, Some(f)) if f.salts == self.header_salts => Some(f.salts),
            _ => None,
        }
    }

    /// Index of the last commit frame at or after `from` that belongs to `salts` and whose
    /// checksum holds from the previous frame's stored checksum.
    fn committed_after(&self, from: usize, salts: [u32; 2]) -> Vec<usize> {
        (from..self.frames.len())
            .filter(|&i| {
                let f = &self.frames[i];
                f.salts == salts && f.page != 0 && f.commit != 0 && f.self_consistent
            })
            .collect()
    }

    fn damage(&self) -> Option<WalDamage> {
        let salts = self.generation()?;
        let bad = self.sqlite_prefix();
        let later = self.committed_after(bad + 1, salts);
        if later.is_empty() {
            return None;
        }
        // The failing frame's own transaction is lost too when it is a commit frame itself.
        let own = self
            .frames
            .get(bad)
            .is_some_and(|f| f.salts == salts && f.commit != 0);
        Some(WalDamage {
            first_bad_frame: if self.header_ok { bad as u32 + 1 } else { 0 },
            lost_commits: later.len() as u32 + u32::from(own),
            salts,
        })
    }
}

/// Scans the WAL `wal` of database `db` (whose header gives the page size when the WAL's is
/// damaged). An empty or header-only WAL is no damage.
pub fn scan(wal: &Path, db: &Path) -> std::io::Result<WalScan> {
    let Some(p) = parse(wal, db, false)? else {
        return Ok(WalScan {
            page_size: 0,
            frames: 0,
            replayed_commits: 0,
            damage: None,
        });
    };
    let prefix = p.sqlite_prefix();
    Ok(WalScan {
        page_size: p.page_size,
        frames: p.frames.len() as u32,
        replayed_commits: p.frames[..prefix].iter().filter(|f| f.commit != 0).count() as u32,
        damage: p.damage(),
    })
}

/// For `check --repair`: the newest image of every page written by the committed transactions
/// that SQLite's replay of `wal` loses (frames after the damage, up to the last commit frame
/// whose checksum holds). Empty when the WAL has no such damage. Pages of a transaction whose
/// own frames are damaged may be among them in their older image, or missing; a salvager reads
/// them as pages, never as a consistent database.
pub fn pages_after_damage(wal: &Path, db: &Path) -> std::io::Result<SalvagedPages> {
    let Some(p) = parse(wal, db, true)? else {
        return Ok(SalvagedPages::default());
    };
    let (Some(salts), Some(_)) = (p.generation(), p.damage()) else {
        return Ok(SalvagedPages::default());
    };
    let bad = p.sqlite_prefix();
    let commits = p.committed_after(bad + 1, salts);
    let last = *commits.last().expect("damage has a commit after it");
    let mut out = SalvagedPages {
        page_size: p.page_size,
        db_pages: p.frames[last].commit,
        pages: BTreeMap::new(),
    };
    for f in &p.frames[bad..=last] {
        if let (true, Some(data)) = (
            f.salts == salts && f.page != 0 && f.self_consistent,
            &f.data,
        ) {
            out.pages.insert(f.page, data.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "wal_tests.rs"]
mod tests;

//! Restoring a damaged database header (the first 100 bytes) in the repair's scratch copy:
//! with its magic string or page size overwritten, SQLite reads nothing of a file whose pages
//! are all intact. The fields a header must hold are set back to the values SQLite writes;
//! the page size is the one under which the file's pages read as b-tree pages.

use super::pages::{header_page_size, Image};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Restores the header of the database at `path` if it is damaged; whether it was. `wal` says
/// whether a WAL comes with the file (the header then says WAL mode, so SQLite replays it).
pub fn restore(path: &Path, wal: bool) -> std::io::Result<bool> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = f.metadata()?.len() as usize;
    let mut head = [0u8; 100];
    if len < head.len() {
        return Ok(false);
    }
    f.read_exact(&mut head)?;
    let size_ok = header_page_size(&head).is_some_and(|s| len % s == 0);
    if &head[..16] == MAGIC && size_ok {
        return Ok(false);
    }
    let mut bytes = Vec::with_capacity(len);
    f.rewind()?;
    f.read_to_end(&mut bytes)?;
    let size = Image::new(bytes).page_size();
    head[..16].copy_from_slice(MAGIC);
    let field = if size == 65536 { 1 } else { size as u16 };
    head[16..18].copy_from_slice(&field.to_be_bytes());
    for at in [18, 19] {
        if !(1..=2).contains(&head[at]) {
            head[at] = if wal { 2 } else { 1 };
        }
    }
    head[20..24].copy_from_slice(&[0, 64, 32, 32]);
    // The page count is trusted when the "version valid for" matches the change counter.
    let pages = (len / size) as u32;
    head[28..32].copy_from_slice(&pages.to_be_bytes());
    let counter: [u8; 4] = head[24..28].try_into().expect("4 bytes");
    head[92..96].copy_from_slice(&counter);
    if !(1..=4).contains(&be32(&head, 44)) {
        head[44..48].copy_from_slice(&4u32.to_be_bytes());
    }
    if !(1..=3).contains(&be32(&head, 56)) {
        head[56..60].copy_from_slice(&1u32.to_be_bytes());
    }
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&head)?;
    f.sync_all()?;
    Ok(true)
}

/// Whether the (restored) header of the database at `path` says WAL mode (its read and write
/// versions are 2); a file that cannot be read says no.
pub fn is_wal(path: &Path) -> bool {
    let mut head = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| head[18] == 2)
}

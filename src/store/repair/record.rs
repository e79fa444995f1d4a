//! SQLite's record format, read from raw bytes (https://www.sqlite.org/fileformat2.html, "Record
//! Format"): varints, serial types and the values they describe. Every read is bounds-checked: the
//! bytes come from a damaged file, and garbage must give `None`, never a panic.

use rusqlite::types::Value;

/// Reads the varint at `at`: its value and its length in bytes.
pub fn varint(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let b = *buf.get(at + i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(b), 9));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The length of the content of a value of serial type `t`, or `None` for the reserved types.
fn content_len(t: u64) -> Option<usize> {
    Some(match t {
        0 | 8 | 9 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 6,
        6 | 7 => 8,
        10 | 11 => return None,
        n if n % 2 == 0 => ((n - 12) / 2) as usize,
        n => ((n - 13) / 2) as usize,
    })
}

fn signed(bytes: &[u8]) -> i64 {
    let mut v: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i64::from(*b);
    }
    v
}

/// Decodes a whole record (its header and every value). `None` when the bytes are not exactly
/// one well-formed record, or a text is not UTF-8: such a cell is damage, not data.
pub fn decode(payload: &[u8]) -> Option<Vec<Value>> {
    let (header_len, mut at) = varint(payload, 0)?;
    let header_len = usize::try_from(header_len).ok()?;
    if header_len < at || header_len > payload.len() {
        return None;
    }
    let mut types = Vec::new();
    while at < header_len {
        let (t, n) = varint(payload, at)?;
        types.push(t);
        at += n;
    }
    if at != header_len {
        return None;
    }
    let mut body = header_len;
    let mut values = Vec::with_capacity(types.len());
    for t in types {
        let len = content_len(t)?;
        let bytes = payload.get(body..body.checked_add(len)?)?;
        body += len;
        values.push(match t {
            0 => Value::Null,
            1..=6 => Value::Integer(signed(bytes)),
            7 => Value::Real(f64::from_bits(u64::from_be_bytes(bytes.try_into().ok()?))),
            8 => Value::Integer(0),
            9 => Value::Integer(1),
            n if n % 2 == 0 => Value::Blob(bytes.to_vec()),
            _ => Value::Text(String::from_utf8(bytes.to_vec()).ok()?),
        });
    }
    (body == payload.len()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Varints and records as the file format describes them; damage is refused, not guessed at.
    #[test]
    fn decodes_records_and_refuses_damage() {
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0x7f], 0), Some((127, 1)));
        let rec = [3u8, 0x11, 0x01, b'a', b'b', 0xff];
        assert_eq!(
            decode(&rec),
            Some(vec![Value::Text("ab".into()), Value::Integer(-1)])
        );
        assert_eq!(decode(&rec[..5]), None, "a cut record is refused");
        assert_eq!(decode(&[2u8, 10]), None, "reserved types are refused");
    }
}

//! strace's string quoting (`string_quote` in strace's `util.c`, default
//! style): `\"`, `\\`, `\f \n \r \t \v`, printable ASCII as is, every other
//! byte in octal with as few digits as possible (`\0`, `\33`, `\177`), three
//! digits when an octal digit follows (`\0017`).

use alloc::string::String;
use core::fmt::Write;

/// Appends `data` quoted, without the surrounding quotes.
pub fn escape_into(out: &mut String, data: &[u8]) {
    for (i, &c) in data.iter().enumerate() {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            0x20..=0x7e => out.push(c as char),
            _ => {
                out.push('\\');
                let next_is_octal = matches!(data.get(i + 1), Some(b'0'..=b'7'));
                if next_is_octal {
                    out.push((b'0' + (c >> 6)) as char);
                    out.push((b'0' + ((c >> 3) & 7)) as char);
                } else if c >> 3 != 0 {
                    if c >> 6 != 0 {
                        out.push((b'0' + (c >> 6)) as char);
                    }
                    out.push((b'0' + ((c >> 3) & 7)) as char);
                }
                out.push((b'0' + (c & 7)) as char);
            }
        }
    }
}

/// `"..."` of a data buffer strace-style: at most `max` bytes of `data`, then
/// `...` when the object was longer (`more`) or `data` exceeds `max`.
pub fn quoted(out: &mut String, data: &[u8], max: usize, more: bool) {
    let shown = &data[..data.len().min(max)];
    out.push('"');
    escape_into(out, shown);
    out.push('"');
    if more || data.len() > max {
        out.push_str("...");
    }
}

/// A C string: stops at the first NUL; `...` when `truncated` (no NUL seen).
pub fn quoted_cstr(out: &mut String, data: &[u8], truncated: bool) {
    let end = data.iter().position(|&b| b == 0);
    let s = &data[..end.unwrap_or(data.len())];
    out.push('"');
    escape_into(out, s);
    out.push('"');
    if truncated && end.is_none() {
        out.push_str("...");
    }
}

/// Every byte as `\xNN` (strace does this for getrandom's buffer).
pub fn quoted_hex(out: &mut String, data: &[u8], max: usize, more: bool) {
    out.push('"');
    for &b in &data[..data.len().min(max)] {
        let _ = write!(out, "\\x{b:02x}");
    }
    out.push('"');
    if more || data.len() > max {
        out.push_str("...");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(data: &[u8]) -> String {
        let mut s = String::new();
        quoted(&mut s, data, 32, false);
        s
    }

    #[test]
    fn like_strace() {
        // Lines from `strace` 6.1 on Debian 12 (see tests/native.rs).
        assert_eq!(q(b"a\0b\x017\x1bx\x7f\xff\"\\\t\n\r\x0b\x0c 1234567890123456789012345678901234567890"), r#""a\0b\0017\33x\177\377\"\\\t\n\r\v\f 123456789012345"..."#);
        assert_eq!(q(b"\x01\x028"), r#""\1\28""#);
        assert_eq!(q(b"hello, world\n"), r#""hello, world\n""#);
        assert_eq!(q(&[0; 40]), format!("\"{}\"...", "\\0".repeat(32)));
        assert_eq!(q(b"\x7fELF\x02\x01"), r#""\177ELF\2\1""#);
        let mut s = String::new();
        quoted_hex(&mut s, &[0xd2, 0x33], 32, false);
        assert_eq!(s, r#""\xd2\x33""#);
        let mut s = String::new();
        quoted_cstr(&mut s, b"/etc/ho", true);
        assert_eq!(s, r#""/etc/ho"..."#);
    }
}

//! Map keys and values as users type and read them: unsigned integers
//! (decimal or `0x` hex, little-endian as the guest stores them) when they
//! are 4 or 8 bytes, hex bytes otherwise.

use crate::client::ClientError;

/// The bytes of `text` for a field of `size` bytes.
pub fn parse(text: &str, size: u32, what: &str) -> Result<Vec<u8>, ClientError> {
    let bad = |why: String| ClientError::Usage(format!("{what} {text:?}: {why}"));
    match size {
        4 | 8 => {
            let n = parse_int(text).ok_or_else(|| bad(format!("expected an integer for a {size}-byte field (decimal, 0x hex or negative)")))?;
            let bits = 8 * size;
            let (min, max) = (-(1i128 << (bits - 1)), (1i128 << bits) - 1);
            if !(min..=max).contains(&n) {
                return Err(bad(format!("does not fit in {size} bytes")));
            }
            Ok(n.to_le_bytes()[..size as usize].to_vec())
        }
        _ => {
            let b = parse_hex(text).map_err(bad)?;
            if b.len() != size as usize {
                return Err(bad(format!("{} bytes of hex; the field is {size} bytes", b.len())));
            }
            Ok(b)
        }
    }
}

/// An integer: decimal, `0x` hex, or negative decimal (two's complement).
fn parse_int(text: &str) -> Option<i128> {
    let t = text.replace('_', "");
    let n = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        t.parse::<i128>().ok()?
    };
    (n.unsigned_abs() >> 64 == 0).then_some(n)
}

/// `0a ff 00` or `0aff00` (spaces and `:` between bytes allowed).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if digits.len() % 2 != 0 {
        return Err("an odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("`{}` is not a hex byte", &digits[i..i + 2])))
        .collect()
}

/// A key or value for display.
pub fn show(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => u32::from_le_bytes(bytes.try_into().unwrap_or_default()).to_string(),
        8 => u64::from_le_bytes(bytes.try_into().unwrap_or_default()).to_string(),
        _ => hex(bytes),
    }
}

/// The same as a JSON value: a number for 4 and 8 bytes, a hex string
/// otherwise.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    match bytes.len() {
        4 => u32::from_le_bytes(bytes.try_into().unwrap_or_default()).into(),
        8 => u64::from_le_bytes(bytes.try_into().unwrap_or_default()).into(),
        _ => hex(bytes).into(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_for_4_and_8_bytes() {
        assert_eq!(parse("7", 4, "KEY").unwrap(), [7, 0, 0, 0]);
        assert_eq!(parse("0x0102", 8, "KEY").unwrap(), [2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse("-1", 4, "KEY").unwrap(), [0xff; 4]);
        assert_eq!(parse("4294967295", 4, "KEY").unwrap(), [0xff; 4]);
        assert!(parse("4294967296", 4, "KEY").unwrap_err().to_string().contains("does not fit in 4 bytes"));
        assert_eq!(parse("18446744073709551615", 8, "V").unwrap(), [0xff; 8]);
        let e = parse("abc", 8, "VALUE").unwrap_err().to_string();
        assert!(e.starts_with("VALUE \"abc\": expected an integer"), "{e}");
    }

    #[test]
    fn hex_bytes_for_other_sizes() {
        assert_eq!(parse("01 02 0a", 3, "KEY").unwrap(), [1, 2, 10]);
        assert_eq!(parse("01:02", 2, "KEY").unwrap(), [1, 2]);
        assert!(parse("0102", 3, "KEY").unwrap_err().to_string().contains("2 bytes of hex; the field is 3 bytes"));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").unwrap_err().contains("`zz`"));
    }

    #[test]
    fn display_matches_parsing() {
        assert_eq!(show(&[7, 0, 0, 0]), "7");
        assert_eq!(show(&42u64.to_le_bytes()), "42");
        assert_eq!(show(&[1, 2, 0xab]), "01 02 ab");
        assert_eq!(json(&[1, 0, 0, 0]), serde_json::json!(1));
        assert_eq!(json(&[1, 2]), serde_json::json!("01 02"));
        for size in [4u32, 8] {
            let b = parse("123456", size, "K").unwrap();
            assert_eq!(show(&b), "123456");
        }
    }
}

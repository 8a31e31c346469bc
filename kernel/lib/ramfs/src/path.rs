//! Splitting paths into components the way Linux's `link_path_walk` sees them.

/// Components of `path`, skipping empty ones (so `a//b/` is `a`, `b`).
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|c| !c.is_empty())
}

/// Whether `path` ends in `/` (the last component must then be a directory).
pub fn has_trailing_slash(path: &[u8]) -> bool {
    path.len() > 1 && path.ends_with(b"/")
}

/// Splits into the parent part and the final component. `None` for paths
/// with no final component (`/`, ``, `.`-only paths are handled by callers).
pub fn split_last(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let trimmed = {
        let mut p = path;
        while p.len() > 1 && p.ends_with(b"/") {
            p = &p[..p.len() - 1];
        }
        p
    };
    if trimmed.is_empty() || trimmed == b"/" {
        return None;
    }
    match trimmed.iter().rposition(|b| *b == b'/') {
        Some(i) => Some((if i == 0 { b"/" } else { &trimmed[..i] }, &trimmed[i + 1..])),
        None => Some((b"", trimmed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split() {
        assert_eq!(split_last(b"/a/b"), Some((&b"/a"[..], &b"b"[..])));
        assert_eq!(split_last(b"/a"), Some((&b"/"[..], &b"a"[..])));
        assert_eq!(split_last(b"a"), Some((&b""[..], &b"a"[..])));
        assert_eq!(split_last(b"a/b//"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_last(b"/"), None);
        assert_eq!(components(b"//a//b/").collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        assert!(has_trailing_slash(b"a/"));
        assert!(!has_trailing_slash(b"/"));
    }
}

//! `ushell sym PATTERN`: which symbol names a pattern selects. `*` matches
//! any run of characters and `?` one character, against the whole name; a
//! pattern without either matches anywhere in the name, since "find me
//! everything about `alloc`" is the common question.

/// True if `name` is selected by `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return name.contains(pattern);
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Iterative wildcard match with one backtrack point: linear in practice,
/// and never recursive (this runs in a kernel task with a small stack).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn substrings_and_wildcards() {
        assert!(matches("alloc", "kmalloc_large"));
        assert!(!matches("alloc", "free"));
        assert!(matches("main", "main"));
        assert!(matches("k*alloc", "kmalloc"));
        assert!(!matches("k*alloc", "kmalloc_large"), "a wildcard pattern is anchored");
        assert!(matches("k*alloc*", "kmalloc_large"));
        assert!(matches("sys_?ead", "sys_read"));
        assert!(!matches("sys_?ead", "sys_pread"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("", "anything"));
    }
}

//! Quoting words so a POSIX shell reads them back unchanged.

pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=,.:/+@%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(super::quote("/bin/ls"), "/bin/ls");
        assert_eq!(super::quote(""), "''");
        assert_eq!(super::quote("it's"), r"'it'\''s'");
    }
}

//! Instance names: what a user may choose with `--name`, and the one
//! generated from the app's file name when none is given.

use super::error::InstanceError;

/// Longest name: the instance's socket paths must fit in `sun_path` (108
/// bytes) under a runtime directory of ordinary length.
pub const MAX_NAME: usize = 40;

pub fn validate_name(name: &str) -> Result<(), InstanceError> {
    let bad = |why| Err(InstanceError::BadName { name: name.into(), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 40 characters");
    }
    if name.starts_with(['.', '-']) {
        return bad("it starts with '.' or '-'");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return bad("only letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}

/// `<app file name>-<4 hex digits>`, e.g. `hello-musl-3fa2`, avoiding
/// `taken`. `seed` varies the digits (the caller passes something random).
pub fn generate_name(app: &str, mut seed: u64, taken: impl Fn(&str) -> bool) -> String {
    let file = app.rsplit('/').next().unwrap_or(app);
    let mut stem: String = file
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    stem.truncate(MAX_NAME - 5);
    if stem.is_empty() {
        stem = "app".into();
    }
    loop {
        let name = format!("{stem}-{:04x}", seed & 0xffff);
        if !taken(&name) {
            return name;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 7;
    }
}

/// Some bits that differ between runs, for [`generate_name`].
pub fn random_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_users_may_choose() {
        for ok in ["web", "a.b_c-1", &"x".repeat(40)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a b", "ü", &"x".repeat(41), ".."] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_names_come_from_the_app_and_avoid_taken_ones() {
        let n = generate_name("/work/out/Hello_World", 0x1234_abcd, |_| false);
        assert_eq!(n, "hello-world-abcd");
        assert!(validate_name(&n).is_ok());
        let n2 = generate_name("/work/out/Hello_World", 0x1234_abcd, |n| n == "hello-world-abcd");
        assert_ne!(n2, "hello-world-abcd");
        assert!(n2.starts_with("hello-world-"));
        assert_eq!(generate_name("///", 1, |_| false), "app-0001");
        assert!(validate_name(&generate_name(&"y".repeat(300), 7, |_| false)).is_ok());
    }
}

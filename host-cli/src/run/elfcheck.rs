//! A quick look at the app before booting a VM for it, so the common mistakes
//! (a script, a 32-bit or ARM binary, a dynamically linked one) get a clear
//! message instead of a kernel error.

/// What the app needs beyond itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppKind {
    /// A static binary (ET_EXEC, or ET_DYN without an interpreter).
    Static,
    /// Needs this program interpreter (the dynamic loader).
    Dynamic { interp: String },
}

/// Checks the first bytes of an executable. Errors are one-line reasons.
pub fn inspect(data: &[u8]) -> Result<AppKind, String> {
    if data.starts_with(b"#!") {
        return Err("is a script (#!); give the interpreter as APP and the script with --file".into());
    }
    if !data.starts_with(b"\x7fELF") {
        return Err("is not an ELF executable".into());
    }
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])));
    let u64_at = |o: usize| data.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    if data.get(4) != Some(&2) || data.get(5) != Some(&1) {
        return Err("is not a 64-bit little-endian ELF (x86_64 Linux binaries only)".into());
    }
    match u16_at(18) {
        Some(62) => {}
        Some(m) => return Err(format!("is an ELF for machine {m}, not x86_64 (62)")),
        None => return Err("has a truncated ELF header".into()),
    }
    match u16_at(16) {
        Some(2) | Some(3) => {}
        _ => return Err("is not an executable (ELF type is neither EXEC nor DYN)".into()),
    }
    let truncated = || "has a truncated ELF header".to_string();
    let phoff = usize::try_from(u64_at(32).ok_or_else(truncated)?).map_err(|_| truncated())?;
    let phentsize = usize::from(u16_at(54).ok_or_else(truncated)?);
    let phnum = usize::from(u16_at(56).ok_or_else(truncated)?);
    for i in 0..phnum {
        let ph = phoff.checked_add(i * phentsize).ok_or_else(truncated)?;
        const PT_INTERP: u32 = 3;
        if u32_at(ph).ok_or_else(truncated)? == PT_INTERP {
            let off = usize::try_from(u64_at(ph + 8).ok_or_else(truncated)?).map_err(|_| truncated())?;
            let size = usize::try_from(u64_at(ph + 32).ok_or_else(truncated)?).map_err(|_| truncated())?;
            let raw = data.get(off..off.saturating_add(size)).ok_or_else(truncated)?;
            let interp = String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw)).into_owned();
            return Ok(AppKind::Dynamic { interp });
        }
    }
    Ok(AppKind::Static)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_binaries() {
        // busybox-static is static; the test binary itself is dynamic.
        if let Ok(bb) = std::fs::read("/bin/busybox") {
            assert_eq!(inspect(&bb), Ok(AppKind::Static));
        }
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match inspect(&me) {
            Ok(AppKind::Dynamic { interp }) => assert!(interp.contains("ld-"), "{interp}"),
            other => panic!("test binary: {other:?}"),
        }
    }

    #[test]
    fn rejects() {
        assert!(inspect(b"#!/bin/sh\n").unwrap_err().contains("script"));
        assert!(inspect(b"hello").unwrap_err().contains("not an ELF"));
        assert!(inspect(b"\x7fELF\x01\x01").unwrap_err().contains("64-bit"));
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 2;
        h[18] = 183; // aarch64
        assert!(inspect(&h).unwrap_err().contains("183"));
        h[18] = 62;
        h[32] = 64; // phoff past the end with one phdr
        h[56] = 1;
        h[54] = 56;
        assert!(inspect(&h).unwrap_err().contains("truncated"));
        h[56] = 0;
        assert_eq!(inspect(&h), Ok(AppKind::Static));
    }
}

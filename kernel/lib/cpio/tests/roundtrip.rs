//! Writer → parser roundtrips and the parser's handling of damaged input.

use cpio::{Archive, Entry, FileKind, Meta, ParseErrorKind, Writer, HEADER_LEN};

fn sample() -> Vec<u8> {
    let mut w = Writer::new();
    let dir = Meta { perm: 0o755, ..Meta::default() };
    w.dir("bin", &dir).unwrap();
    w.file("bin/app", &Meta { perm: 0o755, uid: 1, gid: 2, mtime: 1_700_000_000 }, b"\x7fELF...")
        .unwrap();
    w.file("empty", &Meta::default(), b"").unwrap();
    w.symlink("bin/sh", &Meta { perm: 0o777, ..Meta::default() }, "app").unwrap();
    w.file(".ushell/argv", &Meta::default(), b"/bin/app\0x\0").unwrap();
    w.finish()
}

#[test]
fn roundtrip_names_kinds_data_alignment() {
    let bytes = sample();
    assert_eq!(bytes.len() % 4, 0);
    let entries: Vec<_> = Archive::new(&bytes).entries().collect::<Result<_, _>>().unwrap();
    let summary: Vec<_> = entries.iter().map(|e| (e.path(), e.kind(), e.perm(), e.data)).collect();
    assert_eq!(
        summary,
        vec![
            ("bin", FileKind::Dir, 0o755, &b""[..]),
            ("bin/app", FileKind::File, 0o755, &b"\x7fELF..."[..]),
            ("empty", FileKind::File, 0o644, &b""[..]),
            ("bin/sh", FileKind::Symlink, 0o777, &b"app"[..]),
            (".ushell/argv", FileKind::File, 0o644, &b"/bin/app\0x\0"[..]),
        ]
    );
    assert_eq!(entries[1].header.uid, 1);
    assert_eq!(entries[1].header.gid, 2);
    assert_eq!(entries[1].header.mtime, 1_700_000_000);
    assert_eq!(entries[3].symlink_target(), Some(&b"app"[..]));
    assert_eq!(entries[1].symlink_target(), None);
    for e in &entries {
        assert_eq!(e.offset % 4, 0, "{} header not 4-aligned", e.name);
        let data_off = e.data.as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(data_off % 4, 0, "{} data not 4-aligned", e.name);
    }
    let inos: std::collections::HashSet<_> = entries.iter().map(|e| e.header.ino).collect();
    assert_eq!(inos.len(), entries.len(), "inode numbers must be distinct");
    assert_eq!(Archive::new(&bytes).validate(), Ok(5));
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = sample();
    for cut in 0..bytes.len() - 3 {
        let res = Archive::new(&bytes[..cut]).validate();
        let err = res.expect_err(&format!("truncated at {cut} parsed as complete"));
        assert!(
            matches!(err.kind, ParseErrorKind::Truncated | ParseErrorKind::MissingTrailer),
            "cut {cut}: {err}"
        );
    }
}

/// Where the newc layout says an entry's data lies: after the header and the
/// NUL-terminated name, padded to 4 bytes.
fn data_range(e: &Entry) -> std::ops::Range<usize> {
    let start = (e.offset + HEADER_LEN + e.header.namesize as usize).next_multiple_of(4);
    start..start + e.header.filesize as usize
}

#[test]
fn every_single_byte_corruption_is_handled() {
    // Flipping any byte must give an error or a (different) valid parse,
    // never a panic. Every entry that does parse must be exactly what the
    // bytes at its offset say, and every entry that lies wholly outside the
    // flipped byte must come back exactly as it was written.
    let bytes = sample();
    let orig: Vec<Entry> = Archive::new(&bytes).entries().collect::<Result<_, _>>().unwrap();
    for i in 0..bytes.len() {
        for v in [0u8, b'F', b'z', 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            let parsed: Vec<Entry> = Archive::new(&b).entries().map_while(Result::ok).collect();
            for e in &parsed {
                let name_at = e.offset + HEADER_LEN;
                assert_eq!(e.name.as_bytes(), &b[name_at..name_at + e.header.namesize as usize - 1], "byte {i}={v:#x}");
                assert_eq!(e.data, &b[data_range(e)], "byte {i}={v:#x}: {} data is not where its header says", e.name);
            }
            for o in orig.iter().filter(|o| !(o.offset..data_range(o).end).contains(&i)) {
                if o.offset < i || parsed.iter().any(|e| e.offset == o.offset) {
                    let e = parsed.iter().find(|e| e.offset == o.offset);
                    assert_eq!(e, Some(o), "byte {i}={v:#x} changed an entry it is not part of");
                }
            }
        }
    }
}

#[test]
fn file_contents_roundtrip_for_every_padding() {
    // Data lengths 0..=9 cover every padding of name and data; the data holds
    // every byte value, so a dropped, shifted or rewritten byte shows.
    let all: Vec<u8> = (0..=255u8).collect();
    let mut w = Writer::new();
    let mut written = Vec::new();
    for len in 0..=9usize {
        let name = "n".repeat(len + 1);
        let data: Vec<u8> = all.iter().cycle().skip(len * 37).take(len * 100 + len).copied().collect();
        w.file(&name, &Meta::default(), &data).unwrap();
        written.push((name, data));
    }
    w.file("all-bytes", &Meta::default(), &all).unwrap();
    written.push(("all-bytes".into(), all.clone()));
    let bytes = w.finish();
    let parsed: Vec<(String, Vec<u8>)> = Archive::new(&bytes)
        .entries()
        .map(|e| e.map(|e| (e.name.to_string(), e.data.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(parsed, written);
}

#[test]
fn typed_errors() {
    assert_eq!(Archive::new(b"").validate().unwrap_err().kind, ParseErrorKind::MissingTrailer);
    let mut b = sample();
    b[0] = b'1';
    let e = Archive::new(&b).validate().unwrap_err();
    assert_eq!((e.offset, e.kind), (0, ParseErrorKind::BadMagic));
    assert!(e.to_string().contains("bad magic"), "{e}");

    // Second entry's filesize field made huge: truncated at that entry.
    let mut b = sample();
    let second = Archive::new(&b).entries().nth(1).unwrap().unwrap().offset;
    b[second + 6 + 6 * 8..second + 6 + 7 * 8].copy_from_slice(b"7FFFFFFF");
    let e = Archive::new(&b).validate().unwrap_err();
    assert_eq!((e.offset, e.kind), (second, ParseErrorKind::Truncated));

    // namesize 0 → bad name.
    let mut b = sample();
    b[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"00000000");
    assert_eq!(Archive::new(&b).validate().unwrap_err().kind, ParseErrorKind::BadName);

    // Name not NUL-terminated where namesize says.
    let mut b = sample();
    b[HEADER_LEN + 3] = b'x'; // "bin\0" → "binx"
    assert_eq!(Archive::new(&b).validate().unwrap_err().kind, ParseErrorKind::BadName);
}

#[test]
fn writer_rejects_bad_names() {
    let mut w = Writer::new();
    assert!(w.file("", &Meta::default(), b"").is_err());
    assert!(w.file("a\0b", &Meta::default(), b"").is_err());
    assert!(w.file("TRAILER!!!", &Meta::default(), b"").is_err());
    // The archive is still usable after a rejected entry.
    w.file("ok", &Meta::default(), b"1").unwrap();
    assert_eq!(Archive::new(&w.finish()).validate(), Ok(1));
}

#[test]
fn path_normalization() {
    let mut w = Writer::new();
    for n in [".", "./etc", "/abs/x", "dir/", "././y"] {
        w.dir(n, &Meta::default()).unwrap();
    }
    let a = w.finish();
    let paths: Vec<_> = Archive::new(&a).entries().map(|e| e.unwrap().path()).collect();
    assert_eq!(paths, vec!["", "etc", "abs/x", "dir", "y"]);
}

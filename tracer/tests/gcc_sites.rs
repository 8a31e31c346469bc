//! Site discovery on programs gcc builds here, with each way of getting a
//! patch site, checked against `nm` (the addresses) and `objdump`'s view
//! of the bytes (the forms are the ones documented in `tracer::nops`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tracer::discover::{LookupError, SiteTable};
use tracer::nops::NopForm;

const SRC: &str = r#"
#include <stdio.h>
__attribute__((noinline)) long myfun(long a) { return a * 3 + 1; }
__attribute__((noinline)) static long helper(long a) { return a ^ 0x55; }
int main(int argc, char **argv) {
    long s = 0;
    for (int i = 0; i < argc * 10; i++) s += myfun(i) + helper(i);
    printf("%ld\n", s);
    return 0;
}
"#;

fn build(name: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gcc_sites");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("prog.c");
    std::fs::write(&src, SRC).unwrap();
    let out = dir.join(format!("{name}-{}", std::process::id()));
    let r = Command::new("gcc").args(flags).arg(&src).arg("-o").arg(&out).output().expect("gcc is needed (apt-get install gcc)");
    assert!(r.status.success(), "gcc {flags:?}: {}", String::from_utf8_lossy(&r.stderr));
    out
}

/// Symbol addresses as `nm` prints them.
fn nm(bin: &Path, sym: &str) -> u64 {
    let out = Command::new("nm").arg(bin).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.split_whitespace().nth(2) == Some(sym)).unwrap_or_else(|| panic!("nm: no {sym}"));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

fn table(bin: &Path, bias: u64) -> SiteTable {
    SiteTable::from_elf(&std::fs::read(bin).unwrap(), bias).unwrap()
}

#[test]
fn mnop_mcount_static() {
    let bin = build("mcount", &["-O2", "-pg", "-mfentry", "-mnop-mcount", "-mrecord-mcount", "-fno-pie", "-no-pie", "-static"]);
    let t = table(&bin, 0);
    for f in ["myfun", "helper", "main"] {
        let s = t.site(f).unwrap();
        assert_eq!((s.func, s.addr), (nm(&bin, f), nm(&bin, f)), "{f}");
        assert_eq!((s.form, s.original, s.listed), (NopForm::Mcount, [0x0f, 0x1f, 0x44, 0, 0], true), "{f}");
        assert!(s.single_instruction());
    }
    // libc was not built with the flags: the error says how to get a site.
    let e = t.site("puts").or_else(|_| t.site("printf")).unwrap_err();
    let LookupError::NoSite { ref first, .. } = e else { panic!("{e}") };
    assert!(!first.is_empty());
    let msg = e.to_string();
    assert!(msg.contains("has no patch site") && msg.contains("gcc -pg -mfentry -mnop-mcount") && msg.contains("-fpatchable-function-entry=5"), "{msg}");
}

#[test]
fn patchable_function_entry_pie_with_bias() {
    let bin = build("pfe", &["-O2", "-fpatchable-function-entry=5"]);
    let bias = 0x5555_5555_4000;
    let t = table(&bin, bias);
    let s = t.site("myfun").unwrap();
    assert_eq!((s.func, s.addr), (nm(&bin, "myfun") + bias, nm(&bin, "myfun") + bias));
    assert_eq!((s.form, s.original, s.listed), (NopForm::Nop1x5, [0x90; 5], true));
    assert!(!s.single_instruction(), "five nops: a thread may stop between them");
    assert_eq!(t.function_at(s.func + 6).map(|f| f.name.as_str()), Some("myfun"));
}

#[test]
fn endbr64_comes_first_under_cf_protection() {
    let bin = build("cet", &["-O2", "-fcf-protection", "-fpatchable-function-entry=5"]);
    let t = table(&bin, 0);
    let s = t.site("myfun").unwrap();
    assert_eq!((s.func, s.addr, s.form), (nm(&bin, "myfun"), nm(&bin, "myfun") + 4, NopForm::Nop1x5));
    let bin = build("cet-mcount", &["-O2", "-fcf-protection", "-pg", "-mfentry", "-mnop-mcount", "-fno-pie", "-no-pie"]);
    let s = table(&bin, 0).site("myfun").unwrap().clone();
    assert_eq!((s.addr - s.func, s.form, s.listed), (4, NopForm::Mcount, false), "no -mrecord-mcount: found by its bytes");
}

#[test]
fn no_flags_no_sites_and_clear_errors() {
    let bin = build("plain", &["-O2"]);
    let t = table(&bin, 0);
    let e = t.site("myfun").unwrap_err();
    match &e {
        LookupError::NoSite { name, addr, first } => {
            assert_eq!((name.as_str(), *addr), ("myfun", nm(&bin, "myfun")));
            assert_eq!(first.len(), 8);
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().starts_with(&format!("function `myfun` at {:#x} has no patch site (it starts with ", nm(&bin, "myfun"))), "{e}");
    let u = t.site("myfu").unwrap_err();
    assert_eq!(u.to_string(), "no function `myfu` in the image (similar: myfun)");
    assert!(t.sites.is_empty(), "{:?}", t.sites);
}

#[test]
fn stripped_image_keeps_table_sites() {
    let bin = build("stripped", &["-O2", "-fpatchable-function-entry=5", "-s"]);
    let t = table(&bin, 0x1000_0000);
    assert!(t.functions.is_empty() || t.functions.iter().all(|f| f.name != "myfun"));
    // main and myfun and helper are listed; their sites are found unnamed.
    assert!(t.sites.len() >= 3, "{:?}", t.sites);
    for s in &t.sites {
        assert!(s.listed && s.form == NopForm::Nop1x5);
        assert_eq!(t.site(&s.name).unwrap(), s, "sub_<addr> names look up");
        assert_eq!(s.name, format!("sub_{:x}", s.addr));
    }
}

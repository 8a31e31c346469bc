//! The bpf_conformance suite (`../shared/conformance/bpf/tests/*.data`, 313
//! cases) run through our assembler on both engines, the interpreter and
//! the JIT (with and without constant blinding), plus its `negative/`
//! inputs, which the assembler must refuse.
//!
//! Each case's program is assembled from `-- asm` (or taken from `-- raw`),
//! run with r1 pointing at the writable `-- mem` bytes and r2 holding their
//! length, and r0 is compared with `-- result`. The report lists every file
//! with pass or fail (`-- --nocapture` shows it; it is also written to
//! `conformance-report.txt` in cargo's test scratch directory).

use std::fs;
use std::path::{Path, PathBuf};

use bpf_runtime::asm::assemble;
use bpf_runtime::interp::{HelperError, Helpers, Input, Mem, Prepared, Vm};
use bpf_runtime::isa::{decode_all, Insn};
use bpf_runtime::jit::{self, JitOptions};
use bpf_runtime::maps::MapSet;

/// Cases that need a feature we do not implement, with the reason. Empty:
/// every case passes.
const UNSUPPORTED: &[(&str, &str)] = &[];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/bpf")
}

#[derive(Default, Debug)]
struct Case {
    asm: Option<String>,
    raw: Option<String>,
    mem: Vec<u8>,
    result: Option<u64>,
    error: Option<String>,
}

fn parse_case(text: &str) -> Case {
    let mut case = Case::default();
    let mut section = String::new();
    let mut body = String::new();
    let flush = |section: &str, body: &str, case: &mut Case| match section {
        "asm" => case.asm = Some(body.to_string()),
        "raw" => case.raw = Some(body.to_string()),
        "mem" => case.mem = body.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("mem byte")).collect(),
        "result" => {
            let t = body.trim();
            case.result = Some(u64::from_str_radix(t.trim_start_matches("0x"), 16).expect("result"));
        }
        "error" => case.error = Some(body.trim().to_string()),
        _ => {}
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- ") {
            flush(&section, &body, &mut case);
            section = name.trim().to_string();
            body.clear();
        } else if section == "asm" || !line.starts_with('#') {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(&section, &body, &mut case);
    case
}

/// `-- raw` is either one little-endian u64 per slot (`0x...`) or bytes.
fn parse_raw(text: &str) -> Option<Vec<Insn>> {
    let mut bytes = Vec::new();
    for tok in text.split_whitespace() {
        if let Some(h) = tok.strip_prefix("0x") {
            bytes.extend_from_slice(&u64::from_str_radix(h, 16).ok()?.to_le_bytes());
        } else {
            bytes.push(u8::from_str_radix(tok, 16).ok()?);
        }
    }
    decode_all(&bytes)
}

/// The suite's helper table: ID 5 is its "unwind" helper, which returns its
/// first argument (a runtime that does not unwind simply continues).
struct SuiteHelpers;

impl Helpers for SuiteHelpers {
    fn call(&mut self, id: i32, args: &[u64; 5], _m: &mut Mem<'_>) -> Result<u64, HelperError> {
        match id {
            5 => Ok(args[0]),
            _ => Err(HelperError::Unknown),
        }
    }
}

fn program(case: &Case) -> Result<Vec<Insn>, String> {
    match (&case.asm, &case.raw) {
        (Some(a), _) => assemble(a).map_err(|e| e.to_string()),
        (None, Some(r)) => parse_raw(r).ok_or_else(|| "bad raw section".to_string()),
        (None, None) => Err("no program".into()),
    }
}

/// How a case is run.
#[derive(Clone, Copy, Debug)]
enum How {
    Interp,
    Jit(JitOptions),
}

fn run_case(case: &Case) -> Result<u64, String> {
    run_case_on(case, How::Interp)
}

fn run_case_on(case: &Case, how: How) -> Result<u64, String> {
    let insns = program(case)?;
    if let Some(raw) = &case.raw {
        // Both forms must agree when a file gives both.
        if case.asm.is_some() && parse_raw(raw).as_deref() != Some(&insns[..]) {
            return Err("asm and raw sections disagree".into());
        }
    }
    let prog = Prepared::new(&insns, 0).map_err(|e| e.to_string())?;
    let mut mem = case.mem.clone();
    let maps = MapSet::default();
    match how {
        How::Interp => Vm::new().run(&prog, Input::Writable(&mut mem), &maps, &mut SuiteHelpers).map_err(|e| e.to_string()),
        How::Jit(opts) => {
            let code = jit::compile(&prog, &opts).map_err(|e| e.to_string())?;
            let p = jit::host::install(&code).map_err(|e| e.to_string())?;
            Vm::new().run_jit(&p, Input::Writable(&mut mem), &maps, &mut SuiteHelpers).map_err(|e| e.to_string())
        }
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}

/// Runs every case on one engine and reports per file; returns the failures.
fn suite_on(how: How, tag: &str) -> Vec<String> {
    let files = data_files(&suite_dir().join("tests"));
    assert_eq!(files.len(), 313, "the suite has 313 cases");
    let (mut pass, mut fail, mut skipped) = (0, Vec::new(), 0);
    let mut report = String::new();
    let mut line = |l: String| {
        println!("{l}");
        report.push_str(&l);
        report.push('\n');
    };
    for f in &files {
        let name = f.file_stem().unwrap().to_str().unwrap();
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            line(format!("SKIP {name}: {why}"));
            skipped += 1;
            continue;
        }
        let case = parse_case(&fs::read_to_string(f).unwrap());
        let outcome = run_case_on(&case, how);
        let ok = match (&case.error, case.result, &outcome) {
            (Some(_), _, Err(_)) => true,
            (None, Some(want), Ok(got)) => *got == want,
            _ => false,
        };
        if ok {
            line(format!("PASS {name}"));
            pass += 1;
        } else {
            line(format!("FAIL {name}: expected {:?} / error {:?}, got {outcome:?}", case.result.map(|r| format!("{r:#x}")), case.error));
            fail.push(name.to_string());
        }
    }
    line(format!("conformance ({tag}): {pass} passed, {} failed, {skipped} unsupported, of {}", fail.len(), files.len()));
    // The per-file report, also kept as a file (`cargo test` captures stdout).
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-report-{tag}.txt"));
    fs::write(&out, &report).unwrap();
    eprintln!("conformance report: {}", out.display());
    fail
}

#[test]
fn conformance_suite() {
    let fail = suite_on(How::Interp, "interp");
    assert!(fail.is_empty(), "failing cases: {fail:?}");
}

#[test]
fn conformance_suite_on_the_jit() {
    let fail = suite_on(How::Jit(JitOptions::trusted()), "jit");
    assert!(fail.is_empty(), "failing cases: {fail:?}");
}

#[test]
fn conformance_suite_on_the_jit_with_constant_blinding() {
    let fail = suite_on(How::Jit(JitOptions::default()), "jit-blinded");
    assert!(fail.is_empty(), "failing cases: {fail:?}");
}

/// The suite's negative inputs that are about the assembly text itself must
/// be refused by our assembler; `incorrect_return_value_high_bits` must give
/// a result other than the wrong one it states. The rest (reserved fields,
/// reading r0 before writing it) are the verifier's, see `tests/verifier_*`.
#[test]
fn negative_assembly_is_rejected() {
    let dir = suite_dir().join("negative");
    let mut checked = 0;
    for f in data_files(&dir) {
        let name = f.file_stem().unwrap().to_str().unwrap().to_string();
        let case = parse_case(&fs::read_to_string(&f).unwrap());
        if name == "incorrect_return_value_high_bits" {
            let got = run_case(&case).expect("runs");
            assert_ne!(Some(got), case.result, "{name}: the stated result is wrong on purpose");
            checked += 1;
            continue;
        }
        if name.starts_with("unused-") || name == "error" {
            continue; // Structural or dataflow rejections: the verifier's job.
        }
        assert!(program(&case).is_err(), "{name}: the assembler accepted invalid input");
        println!("rejected {name}: {}", program(&case).unwrap_err());
        checked += 1;
    }
    assert!(checked >= 13, "only {checked} negative cases found");
}

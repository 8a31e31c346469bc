//! The kernel's dispatch table (`kernel/src/syscall/mod.rs`, the
//! `syscalls!` block) binds declarations to handlers; this checks, from the
//! sources, that no handler reads an argument its declaration does not
//! have (the kernel would hand it 0 there). Fails under CI=true if the
//! kernel sources are missing.

use linux_abi::decl;
use std::path::Path;

fn kernel_syscall_dir() -> Option<std::path::PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src/syscall");
    d.is_dir().then_some(d)
}

/// Highest argument index the function `name` in `src` reads through its
/// `Args` (`a.u64(3)`, `offset_arg(a, 3)`, ...), if it is there.
fn max_arg_index(src: &str, name: &str) -> Option<Option<usize>> {
    // Handlers are `pub fn name(ctx: &Context, a: &mut Args) -> SysResult`
    // (`_ctx` / `_` when unused).
    let start = ["ctx: &Context, a", "_ctx: &Context, a", "ctx: &Context, _", "_ctx: &Context, _"]
        .iter()
        .find_map(|params| src.find(&format!("pub fn {name}({params}: &mut Args) -> SysResult {{")))?;
    let body = &src[start..];
    let end = body.find("\n}\n").map_or(body.len(), |e| e + 3);
    let body = &body[..end];
    let mut max = None;
    for pat in ["a.u64(", "a.i32(", "a.u32(", "a.usize(", "a.i64(", "(a, ", "(&a, "] {
        for (pos, _) in body.match_indices(pat) {
            let rest = &body[pos + pat.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let (Ok(i), Some(')')) = (digits.parse::<usize>(), rest.chars().nth(digits.len())) {
                max = Some(max.map_or(i, |m: usize| m.max(i)));
            }
        }
    }
    Some(max)
}

#[test]
fn handlers_read_only_declared_arguments() {
    let Some(dir) = kernel_syscall_dir() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "kernel/src/syscall not found next to linux-abi");
        eprintln!("NOT CHECKED: kernel sources not found");
        return;
    };
    let table = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    let block = table.split("syscalls! {").nth(1).expect("the syscalls! table in mod.rs");
    let block = &block[..block.find("\n}\n").expect("end of the table")];
    let mut checked = 0;
    let mut problems = Vec::new();
    for line in block.lines().map(str::trim).filter(|l| l.contains("=>")) {
        let (name, handler) = line.trim_end_matches(',').split_once(" => ").expect("NAME => file::fn");
        let (file, func) = handler.split_once("::").expect("file::fn");
        let d = decl::DECLS.iter().find(|d| d.name.eq_ignore_ascii_case(name)).unwrap_or_else(|| panic!("{name} has no declaration"));
        let src = std::fs::read_to_string(dir.join(format!("{file}.rs"))).unwrap();
        let max = max_arg_index(&src, func).unwrap_or_else(|| panic!("handler {handler} not found in {file}.rs"));
        if let Some(m) = max {
            if m >= d.arity() {
                problems.push(format!("{} ({handler}) reads argument {m} but is declared with {} arguments", d.name, d.arity()));
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} bindings found: did the table's format change?");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{checked} bindings checked against their declarations");
}

#[test]
fn the_scanner_sees_argument_reads() {
    let src = "pub fn f(ctx: &Context, a: &mut Args) -> SysResult {\n    g(a.u64(0), offset_arg(a, 3))\n}\npub fn h(_ctx: &Context, a: &mut Args) -> SysResult {\n    a.i32(5)\n}\n";
    assert_eq!(max_arg_index(src, "f"), Some(Some(3)));
    assert_eq!(max_arg_index(src, "h"), Some(Some(5)));
    assert_eq!(max_arg_index(src, "nope"), None);
}

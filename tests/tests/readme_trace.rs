//! The README's walk-through "Debugging an app with ushell", run exactly
//! as written: every `$ ` line of its ```console blocks is a command for
//! `sh` (stderr merged into stdout, as a terminal shows both), and the
//! lines after it, up to the next `$ ` line, are what it must print.
//!
//! The matching rule (addresses, counts and ids differ from run to run):
//! each line is compared after [`normalize`]: runs of whitespace become one
//! space, `0x` and hex digits become `0x_`, a word of exactly two
//! lowercase hex digits (a code byte, `0f`, `e8`) becomes `N`, as does
//! every other run of decimal digits. In the README, a line `...` stands for any
//! number of lines and `...` inside a line for any text. A command whose
//! expected output has a line starting `ushell: ` (an error) must fail;
//! every other command must exit 0.
//!
//! The commands run in a fresh directory holding links to the repository's
//! `tests/` and `bpf-progs/` (so its relative paths work and what they
//! write stays there), with the built `ushell` first on the `PATH`, the
//! built kernel, and a runtime directory of their own (the README says
//! "the only running instance" without `-i`). `ushell run` in the README
//! chooses its accelerator itself, as a reader's would.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

const SECTION: &str = "## Debugging an app with ushell";
/// One README command's limit (a hang guard: `logs -f | grep -m 2` ends
/// when the log has the lines).
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// One `$ ` command and the lines it must print.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    cmd: String,
    expect: Vec<String>,
}

/// The section's ```console blocks as steps.
fn steps(readme: &str) -> Vec<Step> {
    let start = readme.find(SECTION).unwrap_or_else(|| panic!("README.md has no section `{SECTION}`"));
    let rest = &readme[start + SECTION.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out: Vec<Step> = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        if !in_block {
            in_block = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            in_block = false;
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Step { cmd: cmd.to_string(), expect: Vec::new() });
        } else {
            let step = out.last_mut().unwrap_or_else(|| panic!("output before any command in a console block: {line:?}"));
            step.expect.push(line.to_string());
        }
    }
    out
}

/// A line as the matching rule compares it (see the module docs).
fn normalize(line: &str) -> String {
    let words: Vec<String> = line.split_whitespace().map(normalize_word).collect();
    words.join(" ")
}

fn normalize_word(w: &str) -> String {
    let c: Vec<char> = w.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let at_word_start = |i: usize| i == 0 || !c[i - 1].is_ascii_alphanumeric();
    while i < c.len() {
        if c[i] == '0' && c.get(i + 1) == Some(&'x') && c.get(i + 2).is_some_and(|d| d.is_ascii_hexdigit()) && at_word_start(i) {
            i += 2;
            while i < c.len() && c[i].is_ascii_hexdigit() {
                i += 1;
            }
            out.push_str("0x_");
        } else if c[i].is_ascii_alphanumeric() && at_word_start(i) {
            let end = (i..c.len()).find(|&j| !c[j].is_ascii_alphanumeric()).unwrap_or(c.len());
            let word: String = c[i..end].iter().collect();
            if word.len() == 2 && word.chars().all(|d| d.is_ascii_hexdigit() && !d.is_ascii_uppercase()) {
                // As a number: a byte `12` and an id `12` must not differ.
                out.push('N');
            } else {
                out.push_str(&mask_digits(&word));
            }
            i = end;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn mask_digits(w: &str) -> String {
    e2e::mask_numbers(w)
}

/// `actual` matches `pattern`, where `...` inside it stands for any text.
fn line_matches(pattern: &str, actual: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == actual;
    }
    let mut rest = actual;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else { return false };
            rest = r;
        } else if i + 1 == parts.len() {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else { return false };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

/// `actual` lines match `expect`ed ones (normalized; a `...` line matches
/// any number of lines).
fn lines_match(expect: &[String], actual: &[String]) -> bool {
    match expect.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((e, rest)) => actual.split_first().is_some_and(|(a, arest)| line_matches(&normalize(e), &normalize(a)) && lines_match(rest, arest)),
    }
}

/// Stops the README's instance if a step failed before `ushell rm demo`.
struct StopDemo<'a> {
    env: &'a [(String, String)],
    dir: &'a Path,
}

impl Drop for StopDemo<'_> {
    fn drop(&mut self) {
        for cmd in ["ushell stop demo", "ushell rm demo"] {
            let _ = run(cmd, self.dir, self.env);
        }
    }
}

/// Runs `cmd` with `sh`; its status and output (stdout and stderr merged).
fn run(cmd: &str, dir: &Path, env: &[(String, String)]) -> (Option<i32>, String) {
    let out_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("exec 2>&1\n{cmd}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out_file.reopen().expect("reopen"))
        .process_group(0);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("start sh");
    let status = match child.wait_timeout(COMMAND_LIMIT).expect("wait") {
        Some(s) => s.code(),
        None => {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            None
        }
    };
    (status, std::fs::read_to_string(out_file.path()).unwrap_or_default())
}

#[test]
fn the_readme_walk_through_runs_as_written() {
    let root = e2e::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let steps = steps(&readme);
    assert!(steps.len() > 20, "the walk-through's commands: {steps:#?}");

    let dir = tempfile::Builder::new().prefix("readme-trace-").tempdir().expect("temp dir");
    for d in ["tests", "bpf-progs"] {
        std::os::unix::fs::symlink(root.join(d), dir.path().join(d)).expect("link");
    }
    let xdg = dir.path().join("xdg");
    std::fs::create_dir(&xdg).expect("runtime dir");
    let bin = e2e::ushell_bin();
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("XDG_RUNTIME_DIR".into(), xdg.display().to_string()),
        ("USHELL_KERNEL".into(), e2e::kernel_image().display().to_string()),
    ];
    let _stop = StopDemo { env: &env, dir: dir.path() };
    for (i, s) in steps.iter().enumerate() {
        let (status, out) = run(&s.cmd, dir.path(), &env);
        let actual: Vec<String> = out.lines().map(String::from).collect();
        let shown = format!("step {}: $ {}\nstatus {status:?}\n--- printed ---\n{out}--- the README says ---\n{}\n", i + 1, s.cmd, s.expect.join("\n"));
        println!("{shown}");
        let fails = s.expect.iter().any(|l| l.starts_with("ushell: "));
        if fails {
            assert!(status.is_some_and(|c| c != 0), "the README shows an error, so the command must fail\n{shown}");
        } else {
            assert_eq!(status, Some(0), "{shown}");
        }
        assert!(lines_match(&s.expect, &actual), "the output differs from the README (numbers and addresses aside)\n{shown}");
    }
}

#[test]
fn the_matching_rule() {
    assert_eq!(normalize("attached count (#3, fentry) to myfun (app) at 0x401136: 0f 1f 44 00 00 -> e8 c5 ee bf 00"), "attached count (#N, fentry) to myfun (app) at 0x_: N N N N N -> N N N N N");
    assert_eq!(normalize("  0x4016e6  0f 1f 44 00 00  nop DWORD PTR [rax+rax*1+0x0]  <- site"), "0x_ N N N N N nop DWORD PTR [rax+rax*N+0x_] <- site");
    assert_eq!(normalize("myfun  app  fentry  1     count  1523360"), normalize("myfun app fentry 12 count 9"));
    assert_ne!(normalize("returned: 5"), normalize("returned: -5"));
    assert_eq!(normalize("at object 2: count-12 x86_64 add"), "at object N: count-N xN_N add");
    assert!(line_matches("a ... b ... c", "a 1 b 2 c") && !line_matches("a ... c", "a 1 b") && line_matches("x ...", "x y z"));
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&l(&["a", "...", "z"]), &l(&["a", "b", "c", "z"])));
    assert!(lines_match(&l(&["a", "...", "z"]), &l(&["a", "z"])));
    assert!(!lines_match(&l(&["a", "z"]), &l(&["a", "b", "z"])));
    assert!(!lines_match(&l(&["a"]), &l(&[])));
    let s = steps(&format!("x\n{SECTION}\n\n```console\n$ echo 1\n1\n$ true\n```\n\n```sh\n$ not this\n```\n## Next\n```console\n$ nor this\n```\n"));
    assert_eq!(s, [Step { cmd: "echo 1".into(), expect: vec!["1".into()] }, Step { cmd: "true".into(), expect: vec![] }]);
}

#[test]
fn the_readme_section_parses() {
    let readme = std::fs::read_to_string(e2e::workspace_root().join("README.md")).expect("README.md");
    let s = steps(&readme);
    assert!(s.iter().any(|s| s.cmd.starts_with("ushell run -q -d --name demo ")), "{s:#?}");
    assert_eq!(s.last().map(|s| s.cmd.as_str()), Some("ushell rm demo"), "the walk-through cleans up");
}

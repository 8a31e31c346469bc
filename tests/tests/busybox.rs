//! Differential test: Debian's static `/bin/busybox` applets must give the
//! same stdout and exit status inside the unikernel as natively on the host.
//!
//! Both sides get the same argv, the same environment (native runs go through
//! `busybox env -i` with the guest's default environment), cwd `/`, the same
//! stdin, and the input files at the same absolute paths (`--file` keeps the
//! host path). `ls -l` output is compared without owner, group, date and the
//! `total` line: those depend on who runs the test and on the filesystem's
//! block accounting, which differ between Linux filesystems too.

use e2e::{par_map, Vm};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BUSYBOX: &str = "/bin/busybox";
/// The guest's default environment (see `ushell run`), in its order.
const GUEST_ENV: [&str; 3] = ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/", "TERM=linux"];

const TEXT: &str = "the quick brown fox\njumps over\nthe lazy dog\napple\nbanana\napple\ncherry\nbanana\nbanana\n\
                    Zebra 10\nzebra 9\nfox again\n";
const CSV: &str = "name,qty,price\napple,3,1.5\npear,10,0.25\nfig,7,3\n";
const NUMS: &str = "10\n9\n100\n-3\n42\n7\n0\n";

/// How stdout is compared.
#[derive(Clone, Copy)]
enum Cmp {
    Exact,
    /// `ls -l`: drop owner, group, date columns and the `total` line.
    LsLong,
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: Vec<u8>,
    cmp: Cmp,
}

struct Inputs {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Inputs {
    fn new() -> Inputs {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let bin: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut files = Vec::new();
        for (name, data) in [
            ("text.txt", TEXT.as_bytes()),
            ("data.csv", CSV.as_bytes()),
            ("nums.txt", NUMS.as_bytes()),
            ("bin.dat", &bin[..]),
            ("empty", b""),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            files.push(p);
        }
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("tool.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o750)).unwrap();
        files.push(script);
        Inputs { _dir: tmp, dir, files }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn cases(inp: &Inputs) -> Vec<Case> {
    let f = |n: &str| inp.path(n);
    let c = |name: &'static str, args: &[&str]| Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: Vec::new(),
        cmp: Cmp::Exact,
    };
    let with_stdin = |mut case: Case, input: &[u8]| {
        case.stdin = input.to_vec();
        case
    };
    let (text, csv, nums, bin, empty, tool) =
        (f("text.txt"), f("data.csv"), f("nums.txt"), f("bin.dat"), f("empty"), f("tool.sh"));
    let dir = inp.dir.display().to_string();
    vec![
        c("echo", &["echo", "hello", "world"]),
        c("echo -n", &["echo", "-n", "no newline"]),
        c("echo -e", &["echo", "-e", "tab\\there\\n"]),
        c("cat", &["cat", &text, &csv]),
        c("cat binary", &["cat", &bin]),
        with_stdin(c("cat stdin", &["cat"]), b"from stdin\n"),
        c("cat missing", &["cat", "/nonexistent"]),
        c("ls", &["ls", &dir]),
        c("ls -a", &["ls", "-a", &dir]),
        Case { cmp: Cmp::LsLong, ..c("ls -l files", &["ls", "-l", &text, &bin, &empty, &tool]) },
        Case { cmp: Cmp::LsLong, ..c("ls -l dir", &["ls", "-l", &dir]) },
        c("wc", &["wc", &text]),
        c("wc -l", &["wc", "-l", &text, &csv]),
        with_stdin(c("wc stdin", &["wc", "-w"]), TEXT.as_bytes()),
        c("sort", &["sort", &text]),
        c("sort -n", &["sort", "-n", &nums]),
        c("sort -r -u", &["sort", "-r", "-u", &text]),
        c("sort -t, -k2n", &["sort", "-t,", "-k2n", &csv]),
        with_stdin(c("sort | uniq -c", &["uniq", "-c"]), sorted(TEXT).as_bytes()),
        c("uniq", &["uniq", &text]),
        c("head", &["head", "-n", "3", &text]),
        c("head -c", &["head", "-c", "7", &text]),
        c("tail", &["tail", "-n", "2", &text]),
        c("tail -c", &["tail", "-c", "5", &csv]),
        c("cut -d -f", &["cut", "-d", ",", "-f", "1,3", &csv]),
        c("cut -c", &["cut", "-c", "2-5", &text]),
        with_stdin(c("tr", &["tr", "a-z", "A-Z"]), b"hi there\n"),
        with_stdin(c("tr -d", &["tr", "-d", "aeiou"]), TEXT.as_bytes()),
        c("sed s///g", &["sed", "s/o/0/g", &text]),
        c("sed -n p", &["sed", "-n", "2,4p", &text]),
        c("awk sum", &["awk", "-F,", "NR>1 {s+=$2*$3} END {print s, NR}", &csv]),
        c("awk fields", &["awk", "{print NF, $1}", &text]),
        c("grep -n", &["grep", "-n", "fox", &text]),
        c("grep -c -i", &["grep", "-c", "-i", "zebra", &text]),
        c("grep no match", &["grep", "nomatch", &text]),
        c("grep -E -o", &["grep", "-E", "-o", "b[a-z]+", &text]),
        c("md5sum", &["md5sum", &text, &bin, &empty]),
        c("sha256sum", &["sha256sum", &bin]),
        c("gzip -c", &["gzip", "-c", &text]),
        c("od -c", &["od", "-c", &text]),
        c("od -A x -t x1", &["od", "-A", "x", "-t", "x1", &bin]),
        c("seq", &["seq", "1", "3", "20"]),
        c("seq -s", &["seq", "-s", ",", "5"]),
        c("expr mul", &["expr", "6", "*", "7"]),
        c("expr false", &["expr", "1", "=", "2"]),
        c("expr length", &["expr", "length", "unikernel"]),
        c("basename", &["basename", "/a/b/c.txt", ".txt"]),
        c("dirname", &["dirname", "/a/b/c.txt"]),
        c("printf", &["printf", "%s-%05d|%x\\n", "x", "42", "255"]),
        c("env", &["env"]),
        c("true", &["true"]),
        c("false", &["false"]),
    ]
}

fn sorted(s: &str) -> String {
    let mut l: Vec<&str> = s.lines().collect();
    l.sort();
    l.iter().map(|x| format!("{x}\n")).collect()
}

/// Runs busybox natively with the guest's environment, cwd and argv[0].
fn native(args: &[String], stdin: &[u8]) -> (Option<i32>, Vec<u8>) {
    let mut child = Command::new(BUSYBOX)
        .args(["env", "-i"])
        .args(GUEST_ENV)
        .arg(BUSYBOX)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("/bin/busybox (apt package busybox-static)");
    let mut i = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || {
        let _ = i.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    (out.status.code(), out.stdout)
}

fn guest_vm(inp: &Inputs, args: &[String], stdin: &[u8]) -> Vm {
    inp.files
        .iter()
        .fold(Vm::new(BUSYBOX), |vm, f| vm.file(f))
        .args(args)
        .stdin(stdin.to_vec())
}

fn normalize(cmp: Cmp, out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    match cmp {
        Cmp::Exact => text.into_owned(),
        Cmp::LsLong => text
            .lines()
            .filter(|l| !l.starts_with("total "))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // mode nlink owner group size month day time|year name...
                if f.len() >= 9 {
                    format!("{} {} {} {}", f[0], f[1], f[4], f[8..].join(" "))
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: native {x:?} vs unikernel {y:?}", i + 1);
        }
    }
    format!("native has {} lines, unikernel {}", a.lines().count(), b.lines().count())
}

#[test]
fn busybox_applets_match_native() {
    assert!(Path::new(BUSYBOX).exists(), "{BUSYBOX} missing: install the apt package busybox-static");
    let inp = Inputs::new();
    let all = cases(&inp);
    let results = par_map(&all, |case| {
        let (nstatus, nout) = native(&case.args, &case.stdin);
        let guest = guest_vm(&inp, &case.args, &case.stdin).run();
        (nstatus, nout, guest)
    });

    println!("{:<16} {:>7} {:>7}  result", "case", "native", "guest");
    let mut mismatches = Vec::new();
    for (case, (nstatus, nout, guest)) in all.iter().zip(&results) {
        let (n, g) = (normalize(case.cmp, nout), normalize(case.cmp, &guest.stdout));
        let verdict = if *nstatus != guest.status {
            Some(format!("exit status native {nstatus:?} vs unikernel {:?}", guest.status))
        } else if n != g {
            Some(format!("stdout differs: {}", first_difference(&n, &g)))
        } else {
            None
        };
        println!(
            "{:<16} {:>7} {:>7}  {}",
            case.name,
            format!("{nstatus:?}"),
            format!("{:?}", guest.status),
            if verdict.is_none() { "same" } else { "MISMATCH" }
        );
        if let Some(v) = verdict {
            mismatches.push(format!("=== {}: {v}\n{}", case.name, guest.describe()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} busybox cases differ from native:\n{}",
        mismatches.len(),
        all.len(),
        mismatches.join("\n")
    );
}

/// `gzip -c f | gunzip -c` as two VMs (no fork in the guest, so no in-guest
/// pipeline): the round trip restores the file and the compressed stream is
/// byte-identical to native busybox gzip's.
#[test]
fn gzip_then_gunzip_across_two_runs() {
    let inp = Inputs::new();
    let text = inp.path("text.txt");
    let zipped = guest_vm(&inp, &["gzip".into(), "-c".into(), text.clone()], b"").run();
    assert_eq!(zipped.status, Some(0), "{}", zipped.describe());
    let (_, native_zipped) = native(&["gzip".into(), "-c".into(), text], b"");
    assert_eq!(zipped.stdout, native_zipped, "gzip output differs from native busybox gzip");
    let unzipped = Vm::new(BUSYBOX).args(["gunzip", "-c"]).stdin(zipped.stdout.clone()).run();
    assert_eq!(unzipped.status, Some(0), "{}", unzipped.describe());
    assert_eq!(unzipped.stdout_str(), TEXT, "{}", unzipped.describe());
}

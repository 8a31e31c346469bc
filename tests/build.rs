//! Builds the C test apps in `apps/` with the real toolchains, in every
//! flavor the kernel must run: musl static, musl static-PIE, glibc static and
//! glibc static-PIE. The binaries land in `$OUT_DIR/apps/<app>-<flavor>`;
//! tests find them through `E2E_APPS_DIR`.
//!
//! Debian's musl-gcc cannot link a static PIE (its specs drop -static-pie and
//! it ships no rcrt1.o), so that flavor is linked by hand with our own
//! self-relocating start file, `apps/support/rcrt1.c`.
//!
//! `traced` (the function tracer's app) is built apart, static and non-PIE
//! in the musl and glibc flavors, compiled with `-pg -mfentry -mnop-mcount
//! -mrecord-mcount` so its functions start with a 5-byte nop (gcc refuses
//! `-mnop-mcount` with PIC). It is linked without `-pg`: the nops call
//! nothing, so it needs no profiling runtime (which would write gmon.out).

use std::path::{Path, PathBuf};
use std::process::Command;

const APPS: [&str; 11] = ["hello", "args", "fileio", "mmap", "time", "random", "fault", "enosys", "sched", "hostile", "fuzz"];
const FLAVORS: [&str; 4] = ["musl", "musl-pie", "glibc", "glibc-pie"];
const MUSL_LIB: &str = "/usr/lib/x86_64-linux-musl";
/// The tracer's app and its flavors (see the module docs).
const TRACED_FLAVORS: [&str; 2] = ["musl", "glibc"];
const TRACED_CFLAGS: [&str; 5] = ["-pg", "-mfentry", "-mnop-mcount", "-mrecord-mcount", "-fno-pie"];
const CFLAGS: [&str; 5] = ["-O1", "-g", "-Wall", "-fno-omit-frame-pointer", "-D_GNU_SOURCE"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let apps_src = manifest.join("apps");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("apps");
    std::fs::create_dir_all(&out).unwrap();
    println!("cargo:rerun-if-changed=apps");
    println!("cargo:rustc-env=E2E_APPS_DIR={}", out.display());

    require("musl-gcc", "musl-tools");
    require("gcc", "gcc");
    require_file(&format!("{MUSL_LIB}/libc.a"), "musl-dev (installed with musl-tools)");
    require_file("/usr/lib/x86_64-linux-gnu/libc.a", "libc6-dev");

    let rcrt1 = out.join("rcrt1.o");
    run(Command::new("musl-gcc")
        .args(["-fPIE", "-O1", "-fno-stack-protector", "-c"])
        .arg(apps_src.join("support/rcrt1.c"))
        .arg("-o")
        .arg(&rcrt1));

    for flavor in TRACED_FLAVORS {
        build_traced(&apps_src, &out, flavor);
    }

    let jobs: Vec<(&str, &str)> = APPS.iter().flat_map(|a| FLAVORS.iter().map(move |f| (*a, *f))).collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|s| {
        for chunk in jobs.chunks(jobs.len().div_ceil(workers)) {
            let (apps_src, out, rcrt1) = (&apps_src, &out, &rcrt1);
            s.spawn(move || {
                for (app, flavor) in chunk {
                    build(apps_src, out, rcrt1, app, flavor);
                }
            });
        }
    });
}

fn build(src_dir: &Path, out: &Path, rcrt1: &Path, app: &str, flavor: &str) {
    let src = src_dir.join(format!("{app}.c"));
    let exe = out.join(format!("{app}-{flavor}"));
    let include = format!("-I{}", src_dir.display());
    match flavor {
        "musl" => run(Command::new("musl-gcc").args(CFLAGS).arg(&include).arg("-static").arg(&src).arg("-o").arg(&exe)),
        "glibc" => run(Command::new("gcc").args(CFLAGS).arg(&include).arg("-static").arg(&src).arg("-o").arg(&exe)),
        "glibc-pie" => run(
            Command::new("gcc").args(CFLAGS).arg(&include).args(["-fPIE", "-static-pie"]).arg(&src).arg("-o").arg(&exe),
        ),
        "musl-pie" => {
            let obj = out.join(format!("{app}-musl-pie.o"));
            run(Command::new("musl-gcc").args(CFLAGS).arg(&include).args(["-fPIE", "-c"]).arg(&src).arg("-o").arg(&obj));
            let gcc_file = |name: &str| {
                let o = Command::new("gcc").arg(format!("-print-file-name={name}")).output().unwrap();
                String::from_utf8(o.stdout).unwrap().trim().to_string()
            };
            run(Command::new("gcc")
                .args(["-nostdlib", "-static-pie", "-o"])
                .arg(&exe)
                .arg(rcrt1)
                .arg(format!("{MUSL_LIB}/crti.o"))
                .arg(gcc_file("crtbeginS.o"))
                .arg(&obj)
                .arg(format!("{MUSL_LIB}/libc.a"))
                .arg(gcc_file("libgcc.a"))
                .arg(gcc_file("crtendS.o"))
                .arg(format!("{MUSL_LIB}/crtn.o")));
        }
        _ => unreachable!("unknown flavor {flavor}"),
    }
}

fn build_traced(src_dir: &Path, out: &Path, flavor: &str) {
    let cc = if flavor == "musl" { "musl-gcc" } else { "gcc" };
    let obj = out.join(format!("traced-{flavor}.o"));
    let exe = out.join(format!("traced-{flavor}"));
    run(Command::new(cc).args(CFLAGS).args(TRACED_CFLAGS).arg("-c").arg(src_dir.join("traced.c")).arg("-o").arg(&obj));
    run(Command::new(cc).args(["-static", "-no-pie"]).arg(&obj).arg("-o").arg(&exe));
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!("{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    let warnings = String::from_utf8_lossy(&out.stderr);
    for line in warnings.lines().filter(|l| l.contains("warning:")) {
        println!("cargo:warning={line}");
    }
}

fn require(tool: &str, package: &str) {
    if Command::new(tool).arg("--version").output().is_err() {
        panic!("`{tool}` not found: the e2e test apps need it. Install it with `sudo apt-get install {package}` (scripts/setup.sh does this).");
    }
}

fn require_file(path: &str, package: &str) {
    if !Path::new(path).exists() {
        panic!("{path} not found: the e2e test apps need it. Install it with `sudo apt-get install {package}` (scripts/setup.sh does this).");
    }
}

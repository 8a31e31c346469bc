//! The C test apps (tests/apps/*.c) in every flavor: hello with several exit
//! statuses, argv/envp/auxv, file I/O, the mmap family, time, randomness,
//! faults and unimplemented syscalls.
//!
//! Every case also runs the same binary natively on the host (in a private
//! mount namespace, see `e2e::Vm::run_native`) and requires the same exit
//! status and the same stdout, after masking only the lines listed in
//! [`normalise`]. So an app's own expectations are checked against Linux
//! too, not only against our kernel.

use e2e::{app, par_map, Output, Vm, FLAVORS};

/// Runs `cases`, prints one line per case, and fails listing every case
/// whose check returned an error or whose native run differs.
fn run_table<C: Sync>(
    title: &str,
    cases: &[C],
    label: impl Fn(&C) -> String + Sync,
    vm: impl Fn(&C) -> Vm + Sync,
    check: impl Fn(&C, &Output) -> Result<(), String> + Sync,
) {
    let results = par_map(cases, |c| {
        let vm = vm(c);
        let out = vm.run();
        let native = vm.run_native();
        let verdict = check(c, &out).and_then(|()| same_as_native(&vm, &out, &native));
        (label(c), out, verdict)
    });
    println!("{title}:");
    let mut failures = Vec::new();
    for (label, out, verdict) in &results {
        let mark = if verdict.is_ok() { "ok  " } else { "FAIL" };
        println!("  {mark} {label:<28} status {:?} in {:.1?}", out.status, out.elapsed);
        if let Err(why) = verdict {
            failures.push(format!("=== {label}: {why}\n{}", out.describe()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), results.len(), failures.join("\n"));
}

/// The app's name from its binary, e.g. `args` for `.../args-musl-pie`.
fn app_name(vm: &Vm) -> String {
    let file = std::path::Path::new(&vm.argv().into_iter().skip_while(|a| a != "--").nth(1).unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut flavors = FLAVORS;
    flavors.sort_by_key(|f| std::cmp::Reverse(f.len())); // "-musl-pie" before "-musl"
    flavors.iter().find_map(|f| file.strip_suffix(&format!("-{f}"))).unwrap_or(&file).to_string()
}

/// Replaces every `0x` hex number in `line` with `0x?`.
fn mask_hex(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        out.push_str("0x?");
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out + rest
}

/// Replaces the first run of digits in `line` with `N`.
fn mask_first_number(line: &str) -> String {
    match line.find(|c: char| c.is_ascii_digit()) {
        Some(i) => format!("{}N{}", &line[..i], line[i..].trim_start_matches(|c: char| c.is_ascii_digit())),
        None => line.to_string(),
    }
}

/// Replaces the digits inside parentheses in `line` with `N`.
fn mask_parenthesised_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut last_digit = false;
    for c in line.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        let digit = depth > 0 && c.is_ascii_digit();
        if !digit {
            out.push(c);
        } else if !last_digit {
            out.push('N');
        }
        last_digit = digit;
    }
    out
}

/// An app's stdout with the lines that legitimately differ between the
/// unikernel and Linux masked. Each rule says why; nothing else is masked.
fn normalise(app: &str, stdout: &str) -> String {
    stdout
        .lines()
        .map(|l| match app {
            // A static PIE's load address: Linux randomises it (ASLR), our
            // kernel picks its own base.
            "args" if l.starts_with("ok   AT_PHDR ") || l.starts_with("ok   AT_ENTRY ") => mask_hex(l),
            // The initial program break: Linux randomises it.
            "mmap" if l.starts_with("ok   brk(0) = ") => mask_hex(l),
            // Measured durations and the current time (in parentheses).
            "time" => mask_parenthesised_numbers(l),
            // Measured sleep, poll and spin durations.
            "sched" if ["ok   slept ", "ok   poll waited ", "ok   spun for "].iter().any(|p| l.starts_with(p)) => {
                mask_first_number(l)
            }
            // Random bytes, different on every run.
            "random" if l.starts_with("random: ") => "random: <random bytes>".to_string(),
            // acct(2) exists on Linux (CONFIG_BSD_PROCESS_ACCT, on in
            // Debian's kernel), so there it fails with EPERM (no
            // CAP_SYS_PACCT) or ENOENT (the path), not ENOSYS; our kernel
            // does not implement it. That check, and so the summary, differ.
            "enosys" if l.contains("acct(2) fails with ENOSYS") => "<acct(2) check>".to_string(),
            "enosys" if l.starts_with("PASSED: ") || l.starts_with("FAILED: ") => "<summary>".to_string(),
            _ => l.to_string(),
        })
        .map(|l| l + "\n")
        .collect()
}

/// The exit status Linux must give where it legitimately differs (see
/// [`normalise`]), else the unikernel's.
fn native_status(app: &str, guest: &Output, native: &Output) -> Result<Option<i32>, String> {
    if app != "enosys" {
        return Ok(guest.status);
    }
    let text = native.stdout_str();
    let acct = text.lines().find(|l| l.contains("acct(2) fails with ENOSYS")).ok_or("native run printed no acct(2) line")?;
    if acct.starts_with("ok   ") {
        return Ok(guest.status); // a kernel built without BSD process accounting
    }
    if !(acct.contains("errno 1 ") || acct.contains("errno 2 ")) {
        return Err(format!("natively acct(2) failed with neither EPERM nor ENOENT: {acct}"));
    }
    Ok(Some(1))
}

/// The native run of the same binary gave the same status and stdout.
fn same_as_native(vm: &Vm, guest: &Output, native: &Output) -> Result<(), String> {
    let app = app_name(vm);
    let want = native_status(&app, guest, native).map_err(|e| format!("{e}\n--- native run ---\n{}", native.describe()))?;
    if native.status != want {
        return Err(format!(
            "natively exit status {:?}, want {want:?} (unikernel: {:?})\n--- native run ---\n{}",
            native.status,
            guest.status,
            native.describe()
        ));
    }
    let (g, n) = (normalise(&app, &guest.stdout_str()), normalise(&app, &native.stdout_str()));
    if g != n {
        let first = g.lines().zip(n.lines()).find(|(a, b)| a != b);
        return Err(format!(
            "stdout differs from the native run after normalising (first differing line, unikernel vs native: {first:?}; line counts {} vs {})\n--- native run ---\n{}",
            g.lines().count(),
            n.lines().count(),
            native.describe()
        ));
    }
    Ok(())
}

/// The app ran all its checks and passed them.
fn passed(out: &Output) -> Result<(), String> {
    let text = out.stdout_str();
    if out.status != Some(0) {
        return Err(format!("exit status {:?}, want 0", out.status));
    }
    if !text.lines().any(|l| l.starts_with("PASSED:")) || text.contains("FAIL ") {
        return Err("the app did not report PASSED".into());
    }
    Ok(())
}

#[test]
fn hello_all_flavors_and_statuses() {
    let cases: Vec<(&str, i32)> = FLAVORS.iter().flat_map(|f| [0, 3, 42].map(|s| (*f, s))).collect();
    run_table(
        "hello",
        &cases,
        |(f, s)| format!("hello-{f} {s}"),
        |(f, s)| Vm::new(app("hello", f)).arg(s.to_string()),
        |(_, s), out| {
            if out.status != Some(*s) {
                return Err(format!("exit status {:?}, want {s}", out.status));
            }
            if out.stdout != b"hello, world\n" {
                return Err(format!("stdout {:?}, want \"hello, world\\n\"", out.stdout_str()));
            }
            Ok(())
        },
    );
}

#[test]
fn self_checking_apps() {
    let apps = ["args", "fileio", "mmap", "time", "random"];
    let cases: Vec<(&str, &str)> = apps.iter().flat_map(|a| FLAVORS.iter().map(move |f| (*a, *f))).collect();
    run_table(
        "self-checking apps",
        &cases,
        |(a, f)| format!("{a}-{f}"),
        |(a, f)| {
            let vm = Vm::new(app(a, f));
            match *a {
                "args" => vm.args(["one", "two words", ""]).env("E2E_VAR=x y").env("HOME=/root"),
                _ => vm,
            }
        },
        |(a, f), out| {
            passed(out)?;
            if *a == "args" {
                let text = out.stdout_str();
                let argv0 = app(a, f).display().to_string();
                for want in [
                    format!("argv[0]={argv0}\n"),
                    "argv[1]=one\n".into(),
                    "argv[2]=two words\n".into(),
                    "argv[3]=\n".into(),
                    "env PATH=/bin:/usr/bin:/sbin:/usr/sbin\n".into(),
                    "env HOME=/root\n".into(),
                    "env TERM=linux\n".into(),
                    "env E2E_VAR=x y\n".into(),
                ] {
                    if !text.contains(&want) {
                        return Err(format!("stdout lacks {want:?}"));
                    }
                }
                if text.contains("argv[4]") || text.matches("env HOME=").count() != 1 {
                    return Err("unexpected extra argv/env entries".into());
                }
            }
            Ok(())
        },
    );
}

/// The sched app's modes that need no kernel test hook, here mainly for the
/// native comparison (tests/tests/sched.rs checks the scheduling itself).
/// `pipe` is left out: it reads /dev/ushell-test-pipe, which only our kernel
/// provides (with `ushell.test=pipe`).
#[test]
fn sched_sleep_and_spin_match_native() {
    let cases: Vec<(&str, &str)> = FLAVORS.iter().flat_map(|f| ["sleep", "spin"].map(|m| (*f, m))).collect();
    run_table(
        "sched",
        &cases,
        |(f, m)| format!("sched-{f} {m}"),
        |(f, m)| match *m {
            "spin" => Vm::new(app("sched", f)).args(["spin", "1"]),
            _ => Vm::new(app("sched", f)).arg(m),
        },
        |_, out| passed(out),
    );
}

#[test]
fn fault_null_deref_is_sigsegv_with_symbol() {
    run_table(
        "fault",
        &FLAVORS,
        |f| format!("fault-{f}"),
        |f| Vm::new(app("fault", f)),
        |_, out| {
            if out.status != Some(139) {
                return Err(format!("exit status {:?}, want 139 (128 + SIGSEGV)", out.status));
            }
            if !out.stdout_str().contains("about to dereference NULL") {
                return Err("the app's output before the fault was lost".into());
            }
            if out.stdout_str().contains("still alive") {
                return Err("the app continued after the fault".into());
            }
            if !out.stderr.contains("crash_here") {
                return Err("the fault report on stderr does not name crash_here".into());
            }
            Ok(())
        },
    );
}

#[test]
fn unimplemented_syscall_is_enosys_and_logged() {
    run_table(
        "enosys",
        &FLAVORS,
        |f| format!("enosys-{f}"),
        |f| Vm::new(app("enosys", f)),
        |_, out| {
            passed(out)?;
            if !out.stderr.contains("acct") {
                return Err("the kernel log on stderr does not name the acct syscall".into());
            }
            Ok(())
        },
    );
}

/// The build really produced the flavors the names promise: static
/// executables, and static PIEs (ET_DYN without an interpreter).
#[test]
fn normalisers_mask_only_what_they_should() {
    assert_eq!(mask_hex("ok   AT_ENTRY 0x5555f0 = &_start 0x5555f0"), "ok   AT_ENTRY 0x? = &_start 0x?");
    assert_eq!(mask_parenthesised_numbers("ok   at least 10 ms passed (16068569 ns)"), "ok   at least 10 ms passed (N ns)");
    assert_eq!(mask_first_number("ok   slept 1003 ms >= 1000"), "ok   slept N ms >= 1000");
    assert_eq!(normalise("args", "ok   AT_PAGESZ = 4096\n"), "ok   AT_PAGESZ = 4096\n");
    assert_ne!(normalise("mmap", "ok   brk(0) = 0x1000\nok   x\n"), normalise("mmap", "ok   brk(0) = 0x2000\nFAIL x\n"));
}

#[test]
fn flavors_are_what_they_claim() {
    for f in FLAVORS {
        let bytes = std::fs::read(app("hello", f)).unwrap();
        let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
        let has_interp = bytes.windows(b".interp".len()).any(|w| w == b".interp");
        let want = if f.ends_with("-pie") { 3 } else { 2 };
        assert_eq!(e_type, want, "hello-{f}: ELF type {e_type}");
        assert!(!has_interp, "hello-{f} has a program interpreter: not static");
    }
}

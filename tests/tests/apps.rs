//! The C test apps (tests/apps/*.c) in every flavor: hello with several exit
//! statuses, argv/envp/auxv, file I/O, the mmap family, time, randomness,
//! faults and unimplemented syscalls.

use e2e::{app, par_map, Output, Vm, FLAVORS};

/// Runs `cases`, prints one line per case, and fails listing every case
/// whose check returned an error.
fn run_table<C: Sync>(
    title: &str,
    cases: &[C],
    label: impl Fn(&C) -> String + Sync,
    vm: impl Fn(&C) -> Vm + Sync,
    check: impl Fn(&C, &Output) -> Result<(), String> + Sync,
) {
    let results = par_map(cases, |c| {
        let out = vm(c).run();
        let verdict = check(c, &out);
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

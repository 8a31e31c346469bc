//! Runs with `--accel kvm`: hello and one busybox applet. Under PVM (this
//! project's CI hosts) KVM works but ring-0 code is slow, and QEMU can hang,
//! so every run has a timeout.
//!
//! Where /dev/kvm is missing or cannot be opened, the same checks run with
//! `--accel tcg` instead, and the tests assert that the fallback happened and
//! that `ushell` announced it on its accelerator line. This holds with and
//! without `CI=true`: the rule is "fail, or fall back and assert the
//! fallback", and the fallback keeps the checks running everywhere.
//! `fallback_when_kvm_device_is_missing` takes the fallback path on every
//! host, so it is never untested.

use std::path::Path;

use e2e::{app, KvmPlan, Output, Vm};

/// `ushell run --timeout` for these runs; the harness kills `ushell` and
/// QEMU a little later still if that does not end them.
const TIMEOUT_SECS: u64 = 60;

fn host_plan(test: &str) -> KvmPlan {
    let plan = KvmPlan::probe(Path::new("/dev/kvm"));
    if let KvmPlan::TcgFallback { why } = &plan {
        // Shown with --nocapture; the assertions below do not depend on it.
        eprintln!("{test}: {why}: falling back to --accel tcg");
    }
    plan
}

/// The `ushell: accel ...` line must name the accelerator the plan chose, so
/// a fallback that did not happen (or one that was not announced) fails.
fn assert_accel_line(plan: &KvmPlan, out: &Output) {
    let line = out.stderr.lines().find(|l| l.starts_with("ushell: accel ")).unwrap_or_else(|| {
        panic!("ushell printed no accelerator line\n{}", out.describe());
    });
    let want = match plan {
        KvmPlan::Kvm => "ushell: accel kvm (requested with --accel kvm",
        KvmPlan::TcgFallback { .. } => "ushell: accel tcg (requested with --accel tcg)",
    };
    assert!(line.starts_with(want), "accelerator line {line:?}, want it to start with {want:?}\n{}", out.describe());
    if let KvmPlan::TcgFallback { .. } = plan {
        assert!(!out.stderr.contains("ushell: accel kvm"), "fell back to TCG but KVM was used\n{}", out.describe());
    }
}

fn check_hello(plan: &KvmPlan) {
    let out = Vm::new(app("hello", "musl")).arg("7").accel(plan.accel()).timeout(TIMEOUT_SECS).run();
    assert_eq!(out.status, Some(7), "{}", out.describe());
    assert_eq!(out.stdout_str(), "hello, world\n", "{}", out.describe());
    assert_accel_line(plan, &out);
}

fn check_busybox_applet(plan: &KvmPlan) {
    let out = Vm::new("/bin/busybox")
        .args(["tr", "a-z", "A-Z"])
        .stdin("kvm works\n")
        .accel(plan.accel())
        .timeout(TIMEOUT_SECS)
        .run();
    assert_eq!((out.status, out.stdout_str().as_str()), (Some(0), "KVM WORKS\n"), "{}", out.describe());
    assert_accel_line(plan, &out);
}

#[test]
fn kvm_hello() {
    check_hello(&host_plan("kvm_hello"));
}

#[test]
fn kvm_busybox_applet() {
    check_busybox_applet(&host_plan("kvm_busybox_applet"));
}

/// The fallback path, taken on purpose: a device path that does not exist
/// must give the TCG plan, and the same checks must pass under it.
#[test]
fn fallback_when_kvm_device_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = KvmPlan::probe(&dir.path().join("kvm"));
    match &plan {
        KvmPlan::TcgFallback { why } => assert!(why.contains("cannot be opened"), "{why}"),
        KvmPlan::Kvm => panic!("a missing device was taken as usable KVM"),
    }
    check_hello(&plan);
    check_busybox_applet(&plan);
}

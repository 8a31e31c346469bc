//! Runs with `--accel kvm`: hello and one busybox applet. Needs /dev/kvm;
//! where it is absent the tests say so and pass (the TCG suite still runs).
//! Under PVM (this project's CI hosts) KVM works but ring-0 code is slow.

use e2e::{app, kvm_absent_reason, Vm};

fn skip_without_kvm(test: &str) -> bool {
    if let Some(why) = kvm_absent_reason() {
        println!("SKIP {test}: needs KVM: {why}");
        eprintln!("SKIP {test}: needs KVM: {why}");
        return true;
    }
    false
}

#[test]
fn kvm_hello() {
    if skip_without_kvm("kvm_hello") {
        return;
    }
    let out = Vm::new(app("hello", "musl")).arg("7").accel("kvm").run();
    assert_eq!(out.status, Some(7), "{}", out.describe());
    assert_eq!(out.stdout_str(), "hello, world\n", "{}", out.describe());
    assert!(out.stderr.contains("ushell: accel kvm"), "{}", out.describe());
}

#[test]
fn kvm_busybox_applet() {
    if skip_without_kvm("kvm_busybox_applet") {
        return;
    }
    let out = Vm::new("/bin/busybox").args(["tr", "a-z", "A-Z"]).stdin("kvm works\n").accel("kvm").run();
    assert_eq!((out.status, out.stdout_str().as_str()), (Some(0), "KVM WORKS\n"), "{}", out.describe());
}

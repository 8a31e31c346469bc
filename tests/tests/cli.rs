//! `ushell run` as a user sees it: stdin, argv[0] and guest paths, `--file`,
//! the accelerator line, timeouts and the errors for things it cannot run.

use e2e::{app, Vm};
use std::path::Path;
use std::process::Command;

const HOST_FAILURE: Option<i32> = Some(runproto::HOST_FAILURE_STATUS);

fn host_busybox(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut c = Command::new("/bin/busybox")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("/bin/busybox (apt package busybox-static)");
    let mut i = c.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || i.write_all(&data));
    let out = c.wait_with_output().unwrap();
    t.join().unwrap().unwrap();
    out.stdout
}

#[test]
fn stdin_reaches_the_app() {
    let out = Vm::new("/bin/busybox").args(["tr", "a-z", "A-Z"]).stdin("hi\n").run();
    assert_eq!((out.status, out.stdout_str().as_str()), (Some(0), "HI\n"), "{}", out.describe());
    let accel = e2e::default_accel();
    let line = format!("ushell: accel {accel} (requested with --accel {accel}");
    assert!(out.stderr.contains(&line), "{}", out.describe());
}

#[test]
fn binary_data_passes_both_ways_unchanged() {
    // Every byte value, 0xFF runs included (the stdin framing escape).
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).chain([0xff; 300]).collect();
    let out = Vm::new("/bin/busybox").arg("cat").stdin(data.clone()).run();
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout == data, "cat of {} binary bytes came back as {} different bytes\n{}", data.len(), out.stdout.len(), out.stderr);
    let out = Vm::new("/bin/busybox").arg("md5sum").stdin(data.clone()).run();
    assert_eq!(out.stdout, host_busybox(&["md5sum"], &data), "{}", out.describe());
}

#[test]
fn empty_stdin_is_eof() {
    let out = Vm::new("/bin/busybox").args(["wc", "-c"]).run();
    assert_eq!((out.status, out.stdout_str().trim()), (Some(0), "0"), "{}", out.describe());
}

#[test]
fn relative_app_path_is_argv0_and_guest_path() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::copy(app("args", "musl"), tmp.path().join("sub/args")).unwrap();
    for given in ["sub/args", "./sub/args"] {
        let out = Vm::new(given).current_dir(tmp.path()).run();
        let text = out.stdout_str();
        assert_eq!(out.status, Some(0), "{}", out.describe());
        assert!(text.contains(&format!("argv[0]={given}\n")), "{}", out.describe());
        assert!(text.contains("ok   AT_EXECFN") && text.contains("ok   cwd is /"), "{}", out.describe());
    }
}

#[test]
fn files_appear_at_their_guest_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, "file content\n").unwrap();
    let fileio = app("fileio", "musl");
    let guest_default = input.display().to_string();
    let cases: Vec<(Vm, &str)> = vec![
        (Vm::new(&fileio).file(&input), guest_default.as_str()),
        (Vm::new(&fileio).opt("--file").opt(format!("{}:/data/x/in.txt", input.display())), "/data/x/in.txt"),
        (Vm::new(&fileio).opt("--file").opt("in.txt").current_dir(tmp.path()), "/in.txt"),
    ];
    for (vm, guest) in cases {
        let out = vm.args([guest, "file content\n"]).run();
        assert_eq!(out.status, Some(0), "{}", out.describe());
        assert!(out.stdout_str().contains(&format!("ok   {guest} holds the expected")), "{}", out.describe());
    }
}

#[test]
fn rootfs_tree_is_the_guest_root() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("etc/app")).unwrap();
    std::fs::write(tmp.path().join("etc/app/conf"), "k=v\n").unwrap();
    std::os::unix::fs::symlink("app/conf", tmp.path().join("etc/link")).unwrap();
    let out = Vm::new("/bin/busybox").opt("--rootfs").opt(tmp.path()).args(["cat", "/etc/app/conf", "/etc/link"]).run();
    assert_eq!((out.status, out.stdout_str().as_str()), (Some(0), "k=v\nk=v\n"), "{}", out.describe());
}

#[test]
fn timeout_kills_the_vm_with_status_125() {
    let out = Vm::new("/bin/busybox").args(["sleep", "600"]).timeout(5).run();
    assert_eq!(out.status, HOST_FAILURE, "{}", out.describe());
    assert!(out.stderr.contains("timed out after 5 s"), "{}", out.describe());
}

fn ushell(args: &[&str]) -> std::process::Output {
    Command::new(e2e::ushell_bin()).args(args).output().unwrap()
}

#[test]
fn missing_kernel_says_how_to_build_it() {
    let out = ushell(&["run", "-q", "--kernel", "/nonexistent/kernel", "/bin/busybox", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), HOST_FAILURE, "{err}");
    assert!(err.contains("/nonexistent/kernel") && err.contains("cargo kernel"), "{err}");
}

#[test]
fn apps_it_cannot_run_get_clear_errors() {
    let kernel = e2e::kernel_image();
    let k = kernel.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("s.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let cases = [
        (script.to_str().unwrap(), "is a script"),
        ("/etc/hostname", "is not an ELF"),
        ("/nonexistent/app", "cannot read /nonexistent/app"),
    ];
    for (path, want) in cases {
        if !Path::new(path).exists() && !path.starts_with("/nonexistent") {
            continue;
        }
        let out = ushell(&["run", "-q", "--kernel", k, path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), HOST_FAILURE, "{path}: {err}");
        assert!(err.contains(want), "{path}: want {want:?} in {err}");
    }
    // A dynamically linked host binary: the loader is not in the initrd.
    let dynamic = ["/bin/ls", "/usr/bin/env"].into_iter().find(|p| {
        std::fs::read(p).is_ok_and(|b| b.windows(3).any(|w| w == b"ld-"))
    });
    match dynamic {
        Some(p) => {
            let out = ushell(&["run", "-q", "--kernel", k, p]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), HOST_FAILURE, "{err}");
            assert!(err.contains("dynamically linked"), "{err}");
        }
        None => println!("note: no dynamically linked /bin/ls or /usr/bin/env here; that case was not checked"),
    }
}

#[test]
fn dry_run_prints_the_qemu_command() {
    let kernel = e2e::kernel_image();
    let out = ushell(&["run", "--accel", "tcg", "--dry-run", "--kernel", kernel.to_str().unwrap(), "/bin/busybox", "true"]);
    let cmd = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for part in ["qemu-system-x86_64", "microvm,acpi=off", "-accel tcg", "-kernel", "-initrd"] {
        assert!(cmd.contains(part), "{part} missing: {cmd}");
    }
    // The kept initrd holds the app and the run description.
    let initrd = cmd.split_whitespace().skip_while(|w| *w != "-initrd").nth(1).unwrap();
    let bytes = std::fs::read(initrd).unwrap();
    let list = String::from_utf8_lossy(&bytes);
    assert!(list.contains("bin/busybox") && list.contains(".ushell/argv"), "initrd lacks entries");
    std::fs::remove_dir_all(Path::new(initrd).parent().unwrap()).unwrap();
}

#[test]
fn auto_accel_explains_its_choice_and_quiet_hides_it() {
    let out = Vm::new(app("hello", "musl")).accel("auto").run();
    let line = out.stderr.lines().find(|l| l.starts_with("ushell: accel ")).unwrap_or_default().to_string();
    assert!(line.contains('(') && line.ends_with(')'), "no accelerator line with a reason:\n{}", out.describe());
    let pvm = Path::new("/sys/module/kvm_pvm").exists();
    if pvm || !Path::new("/dev/kvm").exists() {
        assert!(line.starts_with("ushell: accel tcg"), "{line}");
    }
    if pvm {
        assert!(line.contains("PVM"), "{line}");
    }
    // On PVM this boots with TCG; on hardware KVM with KVM: either way hello runs.
    assert_eq!((out.status, out.stdout_str().as_str()), (Some(0), "hello, world\n"), "{}", out.describe());

    let quiet = Vm::new(app("hello", "musl")).opt("-q").run();
    assert!(!quiet.stderr.contains("ushell: accel"), "{}", quiet.describe());
    assert_eq!(quiet.status, Some(0), "{}", quiet.describe());
}

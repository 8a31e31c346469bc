//! What a hostile or careless app can do must end in Linux's answer, never
//! in a kernel panic, a hang or a VM that eats the host (tests/apps/hostile.c
//! holds the cases). Where the answer does not depend on the machine's
//! memory, the same binary also runs natively and must print the same.
//! Memory-dependent cases run under `-m 64M` and assert what Linux does in
//! a 64 MiB guest: ENOMEM for requests RAM could never back, ENOSPC from a
//! tmpfs of half of RAM, and the OOM killer (status 137) for an app that
//! touches more than there is.

use e2e::{app, par_map, Output, Vm};

fn hostile() -> std::path::PathBuf {
    app("hostile", "musl")
}

fn run(args: &[&str]) -> Output {
    Vm::new(hostile()).opt("-m").opt("64M").args(args).timeout(120).run()
}

fn lines(out: &Output) -> Vec<String> {
    out.stdout_str().lines().map(str::to_string).collect()
}

/// No panic, no reset, and the VM ended by itself (status from the app).
fn assert_clean(out: &Output) {
    assert!(!out.stderr.contains("KERNEL PANIC"), "the kernel panicked\n{}", out.describe());
    assert!(out.status.is_some_and(|s| s != 124 && s != 125), "the run did not end by itself\n{}", out.describe());
}

fn assert_lines(out: &Output, want: &[&str]) {
    assert_clean(out);
    assert_eq!(lines(out), want, "\n{}", out.describe());
}

/// The same case natively: same status and stdout.
fn assert_same_as_native(args: &[&str], ours: &Output) {
    let native = Vm::new(hostile()).args(args).run_native();
    assert_eq!((ours.status, lines(ours)), (native.status, lines(&native)), "differs from Linux\nours:\n{}\nnative:\n{}", ours.describe(), native.describe());
}

#[test]
fn app_sized_buffers_with_bad_pointers_are_efault_not_a_panic() {
    let out = run(&["getrandom"]);
    assert_lines(&out, &["getrandom(bad, 32 MiB): EFAULT", "getrandom(kernel address): EFAULT"]);
    assert_same_as_native(&["getrandom"], &out);
}

#[test]
fn far_offsets_make_sparse_files() {
    let out = run(&["sparse"]);
    assert_lines(
        &out,
        &[
            "ftruncate(1 TiB): ok",
            "size after ftruncate: 1099511627776",
            "pwrite at 1 TiB: ok",
            "size after pwrite: 1099511627777",
            "read in the hole: 4096 bytes, all zero: yes",
            "read across the end: 2 bytes: 00 78",
            "lseek 64 GiB: ok",
            "write after lseek: ok",
            "truncate(64 MiB): ok",
            "size after truncate: 67108864",
            "blocks of a 64 MiB hole: few",
        ],
    );
    assert_same_as_native(&["sparse"], &out);
}

#[test]
fn a_full_file_system_is_enospc_and_recovers() {
    let out = run(&["fill"]);
    assert_clean(&out);
    let l = lines(&out);
    let first = l.first().cloned().unwrap_or_default();
    let mib: u64 = first
        .strip_prefix("write failed after ")
        .and_then(|r| r.strip_suffix(" MiB: ENOSPC"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("want `write failed after N MiB: ENOSPC`\n{}", out.describe()));
    // A tmpfs of half the guest's RAM, as Linux mounts one by default.
    assert!((16..=32).contains(&mib), "ENOSPC after {mib} MiB in a 64 MiB guest\n{}", out.describe());
    assert_eq!(l.get(1).map(String::as_str), Some("after unlink, a small write: ok"), "\n{}", out.describe());
}

#[test]
fn touching_more_than_ram_is_an_oom_kill_with_a_report() {
    let cases = [["touch", "60"], ["sbrk", "60"]];
    let outs = par_map(&cases, |c| run(c));
    for out in &outs {
        assert!(!out.stderr.contains("KERNEL PANIC"), "the kernel panicked\n{}", out.describe());
        assert_eq!(out.status, Some(137), "want SIGKILL's 137\n{}", out.describe());
        let report = out.stderr.lines().find(|l| l.contains("Out of memory: Killed process 1")).unwrap_or_else(|| panic!("no OOM report\n{}", out.describe()));
        let rss_kib: u64 = report.split("anon-rss:").nth(1).and_then(|r| r.split("kB").next()).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(rss_kib > 32 << 10, "the report gives the app's RSS: {report}");
        assert!(report.contains("guest RAM 64 MiB"), "and the -m size: {report}");
    }
}

#[test]
fn requests_ram_could_never_back_are_enomem() {
    let out = run(&["overcommit"]);
    assert_lines(&out, &["malloc(16 GiB): NULL", "mmap(16 TiB, rw): ENOMEM", "brk(+8 TiB): unchanged"]);
}

#[test]
fn range_operations_over_16_tib_are_quick() {
    // The bound is the issue's: the cost must follow the mapped pages, not
    // the size of the range; 1 s is ages for a handful of pages, and a
    // page-by-page walk of 16 TiB would take hours.
    let out = run(&["ranges"]);
    assert_lines(
        &out,
        &[
            "mmap(16 TiB, none): ok in under 1 s",
            "mprotect(16 TiB, read): ok in under 1 s",
            "madvise(16 TiB, DONTNEED): ok in under 1 s",
            "munmap(16 TiB): ok in under 1 s",
            "brk +8 TiB and back: refused, back in under 1 s",
        ],
    );
    assert_same_as_native(&["ranges"], &out);
    // Discarding the whole user half zeroes the app's own stack: Linux
    // answers ENOMEM and the app dies of SIGSEGV on return; quickly.
    let all = run(&["madvall"]);
    assert_clean(&all);
    assert_eq!(all.status, Some(139), "\n{}", all.describe());
    assert_same_as_native(&["madvall"], &all);
}

#[test]
fn what_the_fuzzer_found_stays_fixed() {
    let out = run(&["fuzzfound"]);
    assert_lines(
        &out,
        &[
            // shared anonymous memory is committed even read-only
            "mmap(hint 64 TiB, 16 TiB): ENOMEM in under 1 s",
            "mmap(hint 64 TiB, 16 TiB, private): ok in under 1 s",
            "munmap(0, 1 << 47): EINVAL",
            "write(broken pipe, 0 bytes): 0",
            "write(broken pipe) with SIGPIPE ignored: EPIPE",
        ],
    );
    assert_same_as_native(&["fuzzfound"], &out);
}

#[test]
fn nothing_maps_below_64_kib_and_kernel_addresses_are_enomem() {
    // Linux refuses below vm.mmap_min_addr (65536) for processes without
    // CAP_SYS_RAWIO; the unikernel refuses for everyone (native root here
    // may map page 0, so there is no native comparison).
    let low = run(&["lowmap"]);
    assert_lines(&low, &["mmap(0, MAP_FIXED): EPERM", "mmap(0x8000, MAP_FIXED): EPERM", "mmap(0x10000, MAP_FIXED): ok"]);
    let k = run(&["madvkernel"]);
    assert_lines(&k, &["madvise(kernel address): ENOMEM"]);
    assert_same_as_native(&["madvkernel"], &k);
}

#[test]
fn umip_makes_sidt_fault_in_ring3() {
    let out = Vm::new(hostile()).arg("umip").kernel_args("ushell.log=debug").timeout(120).run();
    assert!(!out.stderr.contains("KERNEL PANIC"), "\n{}", out.describe());
    // QEMU's `-cpu max` (TCG) and the KVM hosts we run on have UMIP; the
    // kernel says what it switched on.
    assert!(out.stderr.contains("SMEP true, SMAP true, UMIP true"), "protections not all on\n{}", out.describe());
    assert_eq!(out.status, Some(139), "sidt must fault (SIGSEGV)\n{}", out.describe());
    assert!(!out.stdout_str().contains("did not fault"), "\n{}", out.describe());
}

#[test]
fn faults_give_linux_signals() {
    let cases: [(&str, i32, &str); 3] = [("int3", 133, "SIGTRAP"), ("idiv", 136, "SIGFPE"), ("div0", 136, "SIGFPE")];
    let outs = par_map(&cases, |(c, _, _)| run(&[c]));
    for ((c, status, sig), out) in cases.iter().zip(&outs) {
        assert!(!out.stderr.contains("KERNEL PANIC"), "{c}\n{}", out.describe());
        assert_eq!(out.status, Some(*status), "{c}\n{}", out.describe());
        assert!(out.stderr.contains(&format!("app killed by {sig}")), "{c}: the report names {sig}\n{}", out.describe());
        assert_same_as_native(&[c], out);
    }
}

/// hello with its writable segment's p_memsz set to 2^46: the loader must
/// refuse it (no 64 TiB of RAM to back it) instead of looping over it.
#[test]
fn an_elf_with_a_huge_bss_is_refused_quickly() {
    let mut elf = std::fs::read(app("hello", "musl")).unwrap();
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16::from_le_bytes([elf[0x36], elf[0x37]]) as usize, u16::from_le_bytes([elf[0x38], elf[0x39]]) as usize);
    let writable_load = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .find(|&ph| u32::from_le_bytes(elf[ph..ph + 4].try_into().unwrap()) == 1 && elf[ph + 4] & 2 != 0)
        .expect("hello has a writable PT_LOAD");
    elf[writable_load + 0x28..writable_load + 0x30].copy_from_slice(&(1u64 << 46).to_le_bytes());
    let dir = std::env::temp_dir().join(format!("ushell-hugebss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hugebss");
    std::fs::write(&path, &elf).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Vm::new(&path).opt("-m").opt("64M").timeout(120).run();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.stderr.contains("KERNEL PANIC"), "\n{}", out.describe());
    assert_eq!(out.status, Some(126), "an ELF the kernel refuses\n{}", out.describe());
    assert!(out.stderr.contains("out of memory while loading"), "the reason is given\n{}", out.describe());
}

/// The kernel half is W^X (kernel/src/arch/wx.rs): no kernel page is both
/// writable and executable (the boot tables mapped 5 GiB so), and the two
/// things that forbids really fault: a write to kernel text or rodata where
/// it runs (#PF, error 0x3: present, write) and a call into the direct map's alias
/// of kernel code (#PF, error 0x11: present, instruction fetch). The app
/// still runs, and the function tracer still patches kernel text (through
/// the direct map; tests/tests/trace_kernel.rs).
#[test]
fn kernel_memory_is_never_writable_and_executable() {
    let hello = || Vm::new(app("hello", "musl"));
    let out = hello().kernel_args("ushell.test=wx-audit").timeout(120).run();
    let audit = out.stderr.lines().find_map(|l| l.strip_prefix("[ushell] wx: ")).unwrap_or_else(|| panic!("no audit line\n{}", out.describe()));
    println!("wx: {audit}");
    let (wx, x): (u64, u64) = {
        let n: Vec<u64> = audit.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        (n[0], n[1])
    };
    assert_eq!(wx, 0, "kernel pages writable and executable\n{}", out.describe());
    assert!(x > 16, "the kernel's text is executable ({x} pages)");
    assert_eq!(out.status, Some(0), "{}", out.describe());
    for (hook, error) in [("wx-write-text", "error 0x3)"), ("wx-write-rodata", "error 0x3)"), ("wx-exec-direct", "error 0x11)")] {
        let out = hello().kernel_args(&format!("ushell.test={hook}")).timeout(120).run();
        let panic = out.stderr.lines().find(|l| l.contains("KERNEL PANIC: page fault (#PF) (vector 14, ")).unwrap_or_else(|| panic!("{hook}: no page fault\n{}", out.describe()));
        assert!(panic.contains(error), "{hook}: {panic}");
        assert!(!out.stderr.contains("went through") && !out.stderr.contains("returned 0x5a5a"), "{hook}\n{}", out.describe());
        println!("{hook}: {panic}");
    }
}

/// Kernel stacks have a guard page below them (kernel/src/arch/task.rs):
/// a kernel task that recurses without end (the `stack-overflow` test
/// hook) stops at it with a report that names the overflow, instead of
/// overwriting the heap below its stack and going on.
#[test]
fn a_kernel_stack_overflow_hits_the_guard_page_and_says_so() {
    let out = Vm::new(app("hello", "musl")).kernel_args("ushell.test=stack-overflow").timeout(120).run();
    let report = out.stderr.lines().find(|l| l.contains("KERNEL PANIC: kernel stack overflow")).unwrap_or_else(|| panic!("no overflow report\n{}", out.describe()));
    println!("{report}");
    assert!(report.contains("guard page hit at"), "{report}");
    assert!(!out.stderr.contains("the recursion ended"), "{}", out.describe());
    assert_ne!(out.status, Some(0), "a kernel panic ends the run\n{}", out.describe());
}

//! The kernel half of the debug shell, end to end: a real app boots
//! through `ushell run` with a virtconsole attached (the `USHELL_QEMU`
//! wrapper of `e2e::shell`, since the supervisor is not in `host-cli`
//! yet), and the test speaks shellproto to the kernel on that console while
//! the app spins in ring 3 without a single syscall: hello, a clang-built
//! object uploaded in chunks, `exec` with an argument, the map the program
//! wrote, its `bpf_printk` line as an event tagged with its name, symbols
//! of the app and the kernel, verifier rejections naming the instruction,
//! and garbage on the console answered with errors. The app's own output
//! must be what a run without the shell gives.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::shell::{ShellVm, ShellVmConfig};
use e2e::{app, default_accel, Vm};
use shellproto::{Event, FrameError, Ref, Reply, Request, ShellError, SymOrigin};

/// Long enough for every step below on a loaded 2-core machine under TCG
/// (the whole session takes well under a second here).
const SPIN_SECS: u64 = 10;

fn sched_app() -> PathBuf {
    app("sched", "musl")
}

fn bpf_obj(src: &Path) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-shell-kernel");
    let obj = bpf_build::compile(src, &dir);
    let bytes = std::fs::read(&obj).unwrap();
    let _ = std::fs::remove_file(&obj);
    bytes
}

fn root() -> PathBuf {
    e2e::workspace_root()
}

fn start_spinning(secs: u64) -> ShellVm {
    let cfg = ShellVmConfig {
        app: sched_app(),
        args: vec!["spin".into(), secs.to_string()],
        kernel_args: String::new(),
        timeout_secs: secs + 90,
        icount: false,
        accel: default_accel(),
    };
    ShellVm::start(&cfg)
}

/// Waits until the app is inside its syscall-free loop.
fn wait_for_spin_start(vm: &ShellVm) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !vm.stderr_so_far().iter().any(|l| l.contains("spin: start")) {
        assert!(Instant::now() < deadline, "the app never started spinning:\n{}", vm.stderr_so_far().join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_still_spinning(vm: &ShellVm, what: &str) {
    let err = vm.stderr_so_far();
    assert!(
        err.iter().any(|l| l.contains("spin: start")) && !err.iter().any(|l| l.contains("spin: end")),
        "{what} did not happen while the app spun in ring 3 (raise SPIN_SECS?):\n{}",
        err.join("\n")
    );
}

/// `main`'s address and its first 8 bytes of code, from the app's file.
fn main_in_file(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let main = elf.syms.iter().find(|s| elf.strtab.get_at(s.st_name) == Some("main")).expect("the app has a `main` symbol");
    let ph = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == goblin::elf::program_header::PT_LOAD && (p.p_vaddr..p.p_vaddr + p.p_filesz).contains(&main.st_value))
        .expect("main is in a loaded segment");
    let off = (main.st_value - ph.p_vaddr + ph.p_offset) as usize;
    (main.st_value, u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap()))
}

/// A kernel `.rodata` symbol's address (from `nm -C`, as the kernel's table
/// has it) and its first 8 bytes in the image file.
fn kernel_rodata_symbol(name: &str) -> (u64, u64) {
    let kernel = e2e::kernel_image();
    let out = std::process::Command::new("nm").args(["-C", "--defined-only"]).arg(&kernel).output().expect("run nm (binutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let addr = text
        .lines()
        .find_map(|l| {
            let (addr, rest) = l.split_once(' ')?;
            (rest.get(2..)? == name).then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .unwrap_or_else(|| panic!("no {name} in the kernel image"));
    let bytes = std::fs::read(&kernel).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let sh = elf.section_headers.iter().find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".rodata")).expect(".rodata");
    assert!((sh.sh_addr..sh.sh_addr + sh.sh_size).contains(&addr), "{name} is not in .rodata");
    let off = (addr - sh.sh_addr + sh.sh_offset) as usize;
    (addr, u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap()))
}

/// "SECTION: rejected at insn N" from the host's `ushell verify`, the same
/// verifier.
fn host_rejection_insn(obj: &[u8], section: &str) -> u32 {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), obj).unwrap();
    let out = std::process::Command::new(e2e::ushell_bin()).arg("verify").arg(f.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{section}: rejected at insn ")))
        .find_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("ushell verify did not reject section {section}:\n{text}"))
}

/// The app's stdout with numbers masked (the spin duration varies, also
/// in its number of digits: 9987 ms or 10012 ms).
fn masked(stdout: &[u8]) -> String {
    e2e::mask_numbers(&String::from_utf8_lossy(stdout))
}

fn u64_le(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("8-byte value"))
}

#[test]
fn shell_serves_bpf_and_symbols_while_the_app_spins_in_ring3() {
    // The same app without a shell, for its output.
    let plain = std::thread::spawn(|| Vm::new(sched_app()).args(["spin", &SPIN_SECS.to_string()]).timeout(SPIN_SECS + 90).run());

    let mut vm = start_spinning(SPIN_SECS);
    let hello = vm.client.hello();
    assert!(hello.kernel.starts_with("ushell-kernel "), "{hello:?}");
    wait_for_spin_start(&vm);
    let t0 = Instant::now();
    let c = &mut vm.client;

    // Upload in chunks well below the limit, so several chunks travel.
    let obj = bpf_obj(&root().join("tests/tests/progs/shell_kernel.c"));
    let chunk = (obj.len() / 5).max(512);
    let a = c.load("shell_kernel.o", &obj, chunk);
    let loaded = match a.result {
        Ok(Reply::Loaded(l)) => l,
        other => panic!("load refused: {other:?}"),
    };
    assert!(loaded.progs.iter().any(|p| p.name == "probe_app") && loaded.progs.iter().any(|p| p.name == "probe_kernel"), "{loaded:?}");
    println!("loaded {} bytes in {} chunks: {:?}", obj.len(), obj.len().div_ceil(chunk), loaded.progs.iter().map(|p| &p.name).collect::<Vec<_>>());

    // exec with an argument: the return value, the printk line as an event
    // tagged with the program, and its ring-buffer record as an event.
    let a = c.request(Request::Exec { prog: Ref::Name("probe_app".into()), arg: b"12345".to_vec() });
    match a.result {
        Ok(Reply::Returned { value, .. }) => assert_eq!(value, 12346, "probe_app returns n + 1"),
        other => panic!("exec failed: {other:?}"),
    }
    assert!(
        a.events.iter().any(|e| matches!(e, Event::ProgOutput { name, line, .. } if name == "probe_app" && line == "probe_app: n=12345")),
        "no printk event from probe_app: {:?}",
        a.events
    );
    assert!(
        a.events.iter().any(|e| matches!(e, Event::Ringbuf { map_name, data, .. } if map_name == "records" && data[..] == 12345u64.to_le_bytes())),
        "no ring-buffer record from probe_app: {:?}",
        a.events
    );
    println!("exec answered in {:?}", a.elapsed);

    // The map it wrote.
    let a = c.request(Request::MapDump { map: Ref::Name("results".into()), cursor: 0 });
    let entries = match a.result {
        Ok(Reply::MapEntries { entries, next: None, .. }) => entries,
        other => panic!("map dump failed: {other:?}"),
    };
    let value = |k: u32| u64_le(&entries.iter().find(|e| e.key == k.to_le_bytes()).unwrap_or_else(|| panic!("no key {k}")).value);
    let (main_addr, main_code) = main_in_file(&sched_app());
    assert_eq!(value(0), 12345);
    assert_eq!(value(1), 12345 * 12345);
    assert_eq!(value(2), (1 << 32) | 1, "pid_tgid of the app (pid 1, its one thread)");
    assert_eq!(value(3), main_addr, "bpf_kallsyms_lookup_name(\"main\") is the app's main");
    assert_eq!(value(4), main_code, "bpf_probe_read_user at main reads the app's code");
    assert_eq!(value(5) as i64, -14, "bpf_probe_read_user of an unmapped address is -EFAULT");

    // A kernel symbol by name, and read-only kernel data read through it;
    // other kernel memory is refused.
    let (table_addr, table_bytes) = kernel_rodata_symbol("kernel::syscall::TABLE");
    let a = c.request(Request::Exec { prog: Ref::Name("probe_kernel".into()), arg: b"kernel::syscall::TABLE".to_vec() });
    assert!(matches!(a.result, Ok(Reply::Returned { value: 0, .. })), "probe_read_kernel of .rodata: {:?}", a.result);
    let a = c.request(Request::MapDump { map: Ref::Name("results".into()), cursor: 0 });
    let Ok(Reply::MapEntries { entries, .. }) = a.result else { panic!("{:?}", a.result) };
    let value = |k: u32| u64_le(&entries.iter().find(|e| e.key == k.to_le_bytes()).unwrap_or_else(|| panic!("no key {k}")).value);
    assert_eq!(value(6), table_addr, "bpf_kallsyms_lookup_name finds kernel symbols");
    assert_eq!(value(7), table_bytes, "bpf_probe_read_kernel reads the image's .rodata");
    assert_eq!(value(8) as i64, -14, "bpf_probe_read_kernel outside .rodata is -EFAULT");

    // Symbols: the app's and the kernel's own table.
    let a = c.request(Request::SymSearch { pattern: "main".into(), limit: 100 });
    match a.result {
        Ok(Reply::Symbols { symbols, .. }) => assert!(
            symbols.iter().any(|s| s.name == "main" && s.addr == main_addr && s.origin == SymOrigin::App),
            "no app `main` at {main_addr:#x}: {symbols:?}"
        ),
        other => panic!("sym failed: {other:?}"),
    }
    let a = c.request(Request::SymSearch { pattern: "kernel::task::*".into(), limit: 100 });
    match a.result {
        Ok(Reply::Symbols { symbols, .. }) => {
            assert!(!symbols.is_empty() && symbols.iter().all(|s| s.origin == SymOrigin::Kernel && s.addr >= 0xffff_ffff_8000_0000), "{symbols:?}")
        }
        other => panic!("kernel sym failed: {other:?}"),
    }
    let a = c.request(Request::SymAt { addr: main_addr + 3 });
    match a.result {
        Ok(Reply::SymbolAt(Some(at))) => assert_eq!((at.symbol.name.as_str(), at.offset), ("main", 3)),
        other => panic!("sym-at failed: {other:?}"),
    }
    let a = c.request(Request::Info);
    match a.result {
        Ok(Reply::Info(i)) => {
            assert!(i.app.path.ends_with("sched-musl") && i.app.pid == 1 && i.app.state == shellproto::AppState::Running, "{i:?}");
            assert!(i.mem_total > i.mem_free && i.mem_free > 0 && i.progs == 2, "{i:?}");
        }
        other => panic!("info failed: {other:?}"),
    }

    // Verifier rejections name the instruction the host verifier names.
    for (file, program) in [("loop_fail.c", "loop_fail"), ("oob.c", "oob_null")] {
        let obj = bpf_obj(&root().join("bpf-progs").join(file));
        let want = host_rejection_insn(&obj, "prog");
        let a = c.load(file, &obj, 4096);
        match a.result {
            Err(ShellError::Rejected { program: p, section, insn, message }) => {
                println!("{file}: rejected {p} ({section}) at insn {insn}: {message}");
                assert_eq!((p.as_str(), section.as_str(), insn), (program, "prog", want), "{message}");
            }
            other => panic!("{file} was not rejected: {other:?}"),
        }
    }
    let a = c.request(Request::Progs);
    match a.result {
        Ok(Reply::Progs(p)) => {
            let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["probe_app", "probe_kernel"], "rejected objects leave nothing loaded");
            assert_eq!((p[0].run_count, p[1].run_count), (1, 1));
        }
        other => panic!("progs failed: {other:?}"),
    }
    println!("all requests answered within {:?} of the spin's start", t0.elapsed());
    assert_still_spinning(&vm, "the whole session");

    let out = vm.wait(Duration::from_secs(SPIN_SECS + 120));
    let plain = plain.join().unwrap();
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(plain.status, Some(0), "{}", plain.describe());
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASSED"), "{}", out.stderr);
    assert_eq!(masked(&out.stdout), masked(&plain.stdout), "the app's stdout differs from a run without the shell");
}

#[test]
fn shell_answers_garbage_with_errors_and_keeps_working() {
    let mut vm = start_spinning(SPIN_SECS);
    vm.client.hello();
    wait_for_spin_start(&vm);
    let c = &mut vm.client;
    let obj = bpf_obj(&root().join("tests/tests/progs/shell_kernel.c"));

    let bad_frames = |c: &mut e2e::shell::Client, bytes: &[u8]| -> Vec<FrameError> {
        c.send_raw(bytes);
        // A request after the garbage: every report comes before its reply.
        let a = c.request(Request::Progs);
        assert!(a.result.is_ok(), "{:?}", a.result);
        a.bad_frames
    };

    // An oversized frame: more than MAX_FRAME bytes without a delimiter.
    let mut big = vec![0x41u8; shellproto::MAX_FRAME + 5000];
    big.push(0);
    let e = bad_frames(c, &big);
    assert_eq!(e, [FrameError::Oversized { max: shellproto::MAX_FRAME as u32 }]);

    // A truncated frame: a real request cut short, then a delimiter.
    let frame = shellproto::encode(&shellproto::ClientMsg { id: 7, req: Request::UploadChunk { upload: 1, offset: 0, data: vec![1; 600] } }).unwrap();
    let mut cut = frame[..frame.len() / 2].to_vec();
    cut.push(0);
    let e = bad_frames(c, &cut);
    assert_eq!(e, [FrameError::Truncated]);

    // Not a message: a valid COBS frame holding an unknown request tag.
    let e = bad_frames(c, &[0x03, 0x01, 0x6e, 0x00]);
    assert!(matches!(e.as_slice(), [FrameError::Malformed { .. }]), "{e:?}");

    // Random bytes, zeros included: every frame among them is reported.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    // The delimiter after them ends the last piece.
    let noise_frames = noise.split(|b| *b == 0).filter(|f| !f.is_empty()).count();
    c.send_raw(&noise);
    c.send_raw(&[0]);
    let a = c.request(Request::Progs);
    println!("random bytes: {noise_frames} frames, {} reported bad", a.bad_frames.len());
    assert_eq!(a.bad_frames.len(), noise_frames, "every garbage frame is answered: {:?}", a.result);

    // A session that dies in the middle of an upload (the peer says hello
    // again): nothing of it stays.
    let a = c.request(Request::UploadBegin { name: "half.o".into(), size: obj.len() as u32 });
    let Ok(Reply::UploadReady { upload }) = a.result else { panic!("{:?}", a.result) };
    let a = c.request(Request::UploadChunk { upload, offset: 0, data: obj[..obj.len() / 2].to_vec() });
    assert!(a.result.is_ok(), "{:?}", a.result);
    c.hello();
    let a = c.request(Request::UploadCommit { upload });
    assert!(matches!(a.result, Err(ShellError::Upload(_))), "{:?}", a.result);

    // And the shell still works: load, exec, the right value.
    let a = c.load("shell_kernel.o", &obj, 8192);
    assert!(matches!(a.result, Ok(Reply::Loaded(_))), "{:?}", a.result);
    let a = c.request(Request::Exec { prog: Ref::Name("probe_app".into()), arg: b"41".to_vec() });
    assert!(matches!(a.result, Ok(Reply::Returned { value: 42, .. })), "{:?}", a.result);
    let a = c.request(Request::Progs);
    match a.result {
        Ok(Reply::Progs(p)) => assert_eq!(p.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["probe_app", "probe_kernel"]),
        other => panic!("{other:?}"),
    }
    assert_still_spinning(&vm, "the garbage session");
    let out = vm.wait(Duration::from_secs(SPIN_SECS + 120));
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASSED"), "{}", out.stderr);
}

/// "NAME VALUE" lines of bpf-progs/compute.c built natively by gcc.
fn compute_native() -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("compute-native");
    let out = std::process::Command::new("gcc").args(["-O2", "-o"]).arg(&exe).arg(root().join("bpf-progs/compute.c")).output().expect("run gcc");
    assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(&exe).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn loaded(a: e2e::shell::Answer, what: &str) -> shellproto::LoadedObject {
    match a.result {
        Ok(Reply::Loaded(l)) => l,
        other => panic!("{what} not loaded: {other:?}"),
    }
}

fn exec_id(c: &mut e2e::shell::Client, id: u32, arg: &[u8]) -> (u64, u64, Vec<Event>) {
    let a = c.request(Request::Exec { prog: Ref::Id(id), arg: arg.to_vec() });
    match a.result {
        Ok(Reply::Returned { value, run_time_ns }) => (value, run_time_ns, a.events),
        other => panic!("exec #{id}: {other:?}"),
    }
}

fn dump(c: &mut e2e::shell::Client, map: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    match c.request(Request::MapDump { map: Ref::Name(map.into()), cursor: 0 }).result {
        Ok(Reply::MapEntries { entries, next: None, .. }) => {
            let mut v: Vec<_> = entries.into_iter().map(|e| (e.key, e.value)).collect();
            v.sort();
            v
        }
        other => panic!("dump {map}: {other:?}"),
    }
}

#[test]
fn the_kernel_jits_by_default_and_interprets_on_request_with_the_same_results() {
    use shellproto::Engine;
    let native = compute_native();
    assert_eq!(native.len(), 6, "crc32, sort, arith64, arith32, bswap, calls: {native:?}");
    // The boot log says whether SMEP and SMAP are on (TCG's `-cpu max` has
    // both): the JIT's code runs in ring 0 beside them.
    let cfg = ShellVmConfig {
        app: sched_app(),
        args: vec!["spin".into(), SPIN_SECS.to_string()],
        kernel_args: "ushell.log=debug".into(),
        timeout_secs: SPIN_SECS + 90,
        icount: false,
        accel: default_accel(),
    };
    let mut vm = ShellVm::start(&cfg);
    vm.client.hello();
    wait_for_spin_start(&vm);
    let protections = vm.stderr_so_far().into_iter().find(|l| l.contains("cpu: SMEP")).expect("the boot logs the CPU protections");
    println!("{protections}");
    if default_accel() == "tcg" {
        assert!(protections.contains("SMEP true, SMAP true"), "{protections}");
    }
    let c = &mut vm.client;

    // compute.c (CRC32, a sort, arithmetic, byte swaps, bpf-to-bpf calls):
    // the JIT by default, the interpreter on request, gcc natively agree.
    let compute = bpf_obj(&root().join("bpf-progs/compute.c"));
    let jit = loaded(c.load("compute.o", &compute, 8192), "compute.o (default)");
    let interp = loaded(c.load_with("compute.o", &compute, 8192, Some(Engine::Interp)), "compute.o (interp)");
    assert!(jit.progs.iter().all(|p| p.engine == Engine::Jit), "the default engine is the JIT: {:?}", jit.progs);
    assert!(interp.progs.iter().all(|p| p.engine == Engine::Interp), "{:?}", interp.progs);
    for (name, want) in &native {
        let id = |o: &shellproto::LoadedObject| o.progs.iter().find(|p| &p.name == name).unwrap_or_else(|| panic!("no {name}")).id;
        let (by_jit, jit_ns, _) = exec_id(c, id(&jit), b"");
        let (by_interp, interp_ns, _) = exec_id(c, id(&interp), b"");
        // First runs: wall time under TCG includes translating the new code.
        println!("{name}: {by_jit} (jit, first run {jit_ns} ns) {by_interp} (interp, {interp_ns} ns), gcc {want}");
        assert_eq!((by_jit, by_interp), (*want, *want), "{name}: jit, interpreter and gcc disagree");
    }

    // Helpers, maps, printk and ring buffers through JIT code: the same
    // effects as the interpreter's (the two objects share `results` and
    // `records` by name).
    let sk = bpf_obj(&root().join("tests/tests/progs/shell_kernel.c"));
    let sk_jit = loaded(c.load("shell_kernel.o", &sk, 8192), "shell_kernel.o (default)");
    let sk_interp = loaded(c.load_with("shell_kernel.o", &sk, 8192, Some(Engine::Interp)), "shell_kernel.o (interp)");
    let app_id = |o: &shellproto::LoadedObject| o.progs.iter().find(|p| p.name == "probe_app").unwrap().id;
    let clear = |c: &mut e2e::shell::Client| {
        for k in 0u32..16 {
            let upd = Request::MapUpdate { map: Ref::Name("results".into()), key: k.to_le_bytes().to_vec(), value: vec![0; 8], flags: 0 };
            assert!(c.request(upd).result.is_ok());
        }
    };
    clear(c);
    let (r_jit, _, ev_jit) = exec_id(c, app_id(&sk_jit), b"12345");
    let after_jit = dump(c, "results");
    clear(c);
    let (r_interp, _, ev_interp) = exec_id(c, app_id(&sk_interp), b"12345");
    let after_interp = dump(c, "results");
    assert_eq!((r_jit, r_interp), (12346, 12346));
    assert_eq!(after_jit, after_interp, "the map after a JIT run and after an interpreter run");
    let value = |k: u32| u64_le(&after_jit.iter().find(|(key, _)| key[..] == k.to_le_bytes()).unwrap().1);
    assert_eq!((value(0), value(1), value(3)), (12345, 12345 * 12345, main_in_file(&sched_app()).0), "{after_jit:?}");
    let strip = |ev: Vec<Event>| -> Vec<Event> {
        ev.into_iter()
            .map(|e| match e {
                Event::ProgOutput { name, line, .. } => Event::ProgOutput { prog: 0, name, line },
                e => e,
            })
            .collect()
    };
    assert_eq!(strip(ev_jit), strip(ev_interp), "printk lines and ring-buffer records");

    // The listing says which engine runs what.
    let progs = match c.request(Request::Progs).result {
        Ok(Reply::Progs(p)) => p,
        other => panic!("{other:?}"),
    };
    for o in [&jit, &interp, &sk_jit, &sk_interp] {
        for p in &o.progs {
            let listed = progs.iter().find(|l| l.id == p.id).unwrap_or_else(|| panic!("#{} not listed", p.id));
            assert_eq!(listed.engine, p.engine, "{listed:?}");
        }
    }

    // Unloading frees the executable pages; loading again reuses memory and
    // still runs right.
    for p in &jit.progs {
        assert!(c.request(Request::Unload { prog: Ref::Id(p.id) }).result.is_ok());
    }
    for round in 0..3 {
        let again = loaded(c.load("compute.o", &compute, 8192), "compute.o again");
        let crc = again.progs.iter().find(|p| p.name == "crc32").unwrap();
        assert_eq!(crc.engine, Engine::Jit);
        let want = native.iter().find(|(n, _)| n == "crc32").unwrap().1;
        assert_eq!(exec_id(c, crc.id, b"").0, want, "round {round}");
        for p in &again.progs {
            assert!(c.request(Request::Unload { prog: Ref::Id(p.id) }).result.is_ok());
        }
    }
    assert_still_spinning(&vm, "the engine session");
    let out = vm.wait(Duration::from_secs(SPIN_SECS + 120));
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASSED"), "{}", out.stderr);
}

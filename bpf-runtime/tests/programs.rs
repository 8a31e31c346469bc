//! The example programs in `bpf-progs/`, compiled by clang, loaded the way
//! the kernel loads them (`runtime::load`: parse, verify, allocate maps) and
//! run against their real maps. `verifier_examples.rs` checks the verdicts
//! on the programs that must be rejected.

mod common;

use bpf_runtime::interp::Vm;
use bpf_runtime::loader::{self, LoadErrorKind};
use bpf_runtime::runtime::{self, Loaded};
use bpf_runtime::spec::{MapType, ProgType};
use common::{build_prog, TestEnv};

struct Inst {
    obj: loader::Object,
    loaded: Loaded,
    vm: Vm,
}

fn instantiate(name: &str) -> Inst {
    let bytes = build_prog(name);
    let obj = loader::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let loaded = runtime::load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    Inst { obj, loaded, vm: Vm::new() }
}

impl Inst {
    fn run(&mut self, prog: &str, ctx: &[u8], env: &mut TestEnv) -> u64 {
        let i = self.loaded.find(prog).unwrap();
        self.loaded.run(&mut self.vm, i, ctx, env).unwrap()
    }
}

#[test]
fn every_example_compiles_and_parses() {
    for name in common::EXAMPLES {
        let obj = loader::parse(&build_prog(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!obj.programs.is_empty(), "{name}");
        // loop_fail and oob exist to be rejected by the verifier.
        let loads = runtime::load(&build_prog(name));
        assert_eq!(loads.is_ok(), !["loop_fail", "oob"].contains(name), "{name}: {:?}", loads.err());
    }
}

#[test]
fn sections_give_names_and_types() {
    let obj = instantiate("count").obj;
    let got: Vec<_> = obj.programs.iter().map(|p| (p.name.as_str(), p.section.as_str(), p.prog_type)).collect();
    assert_eq!(got, [("count", "fentry/myfun", ProgType::Fentry), ("get_count", "syscall", ProgType::Syscall)]);
    let m = &obj.maps[0];
    assert_eq!((m.name.as_str(), m.kind, m.key_size, m.value_size, m.max_entries), ("counts", MapType::Hash, 8, 8, 1024));

    let obj = instantiate("notify").obj;
    assert_eq!(obj.programs[0].prog_type, ProgType::Kprobe);
    let ro = obj.maps.iter().find(|m| m.name == ".rodata").expect(".rodata map");
    assert!(ro.read_only);
    assert_eq!(ro.initial.as_deref(), Some(&b"myfun called by pid %d tgid %d\0"[..]));

    let obj = instantiate("ringbuf").obj;
    assert_eq!(obj.programs[0].section, "tracepoint/syscalls/sys_enter_openat");
    assert_eq!(obj.programs[0].prog_type, ProgType::TracepointSysEnter);
    let names: Vec<_> = obj.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["events", ".rodata", ".bss", ".data"]);
    assert_eq!(obj.maps[0].kind, MapType::Ringbuf);
    assert_eq!(obj.maps[0].max_entries, 4096);
}

#[test]
fn count_and_get_count_share_a_hash_map() {
    let mut inst = instantiate("count");
    let mut env = TestEnv::default();
    let ctx = [0u8; 48];
    for ip in [0x1234u64, 0x1234, 0x5678, 0x1234] {
        env.func_ip = ip;
        assert_eq!(inst.run("count", &ctx, &mut env), 0);
    }
    let counts = inst.loaded.maps.get(0).unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts.lookup(&0x1234u64.to_le_bytes()).unwrap().unwrap(), 3u64.to_le_bytes());
    assert_eq!(counts.lookup(&0x5678u64.to_le_bytes()).unwrap().unwrap(), 1u64.to_le_bytes());

    let mut args = [0u8; 256];
    args[..8].copy_from_slice(&0x1234u64.to_le_bytes());
    assert_eq!(inst.run("get_count", &args, &mut env), 3);
    args[..8].copy_from_slice(&0x9999u64.to_le_bytes());
    assert_eq!(inst.run("get_count", &args, &mut env), 0);
}

#[test]
fn ringbuf_program_emits_events_and_updates_globals() {
    let mut inst = instantiate("ringbuf");
    let mut env = TestEnv::default();
    let ctx = [0u8; 64];
    for _ in 0..3 {
        assert_eq!(inst.run("on_openat", &ctx, &mut env), 0);
    }
    let events = inst.loaded.maps.get(0).unwrap();
    for seq in 1000..1003u64 {
        let rec = events.ringbuf_pop().unwrap().expect("one record per call");
        assert_eq!(rec.len(), 48);
        let u = |i: usize| u64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(u(0), (42 << 32) | 43, "pid_tgid");
        assert_eq!(u(1), (seq - 999) * 1000, "ktime");
        assert_eq!(u(2), seq, ".data seq_base + .bss sent");
        assert_eq!(u(3), 0x7a67, ".rodata tag");
        assert_eq!(&rec[32..40], b"testapp\0");
    }
    assert_eq!(events.ringbuf_pop().unwrap(), None);
    let bss = inst.loaded.maps.find(".bss").unwrap();
    assert_eq!(inst.loaded.maps.get(bss).unwrap().lookup(&0u32.to_le_bytes()).unwrap().unwrap(), 3u64.to_le_bytes());
}

#[test]
fn ringbuf_full_drops_records_without_faulting() {
    let mut inst = instantiate("ringbuf");
    let mut env = TestEnv::default();
    // 4096 bytes hold 73 records of 48 + 8 bytes.
    for _ in 0..100 {
        assert_eq!(inst.run("on_openat", &[0u8; 64], &mut env), 0);
    }
    let events = inst.loaded.maps.get(0).unwrap();
    assert_eq!(events.len(), 4096 / 56);
    assert_eq!(events.ringbuf_dropped(), 100 - 4096 / 56);
}

#[test]
fn notify_prints_with_bpf_printk() {
    let mut inst = instantiate("notify");
    let mut env = TestEnv::default();
    inst.run("notify", &[0u8; 168], &mut env);
    assert_eq!(env.lines, ["myfun called by pid 43 tgid 42"]);
}

#[test]
fn zerodiv_follows_the_isa() {
    let mut inst = instantiate("zerodiv");
    let mut env = TestEnv::default();
    let mut args = [0u8; 256];
    assert_eq!(inst.run("zerodiv", &args, &mut env), 100, "100/0 = 0, 100%0 = 100");
    args[0] = 7;
    assert_eq!(inst.run("zerodiv", &args, &mut env), 14 + 2);
}

#[test]
fn the_jit_runs_the_examples_through_loaded_like_the_interpreter() {
    use bpf_runtime::jit::{self, Engine, JitOptions};
    let mut inst = instantiate("count");
    assert_eq!(inst.loaded.run_on(Engine::Jit, &mut inst.vm, 0, &[0; 48], &mut TestEnv::default()).unwrap_err().kind, bpf_runtime::interp::ExecErrorKind::NotCompiled(0));
    inst.loaded.compile_jit(&JitOptions::default(), &mut jit::host::install).unwrap();
    let mut env = TestEnv::default();
    for (ip, engine) in [(0x1234u64, Engine::Jit), (0x1234, Engine::Interp), (0x1234, Engine::Jit)] {
        env.func_ip = ip;
        let i = inst.loaded.find("count").unwrap();
        assert_eq!(inst.loaded.run_on(engine, &mut inst.vm, i, &[0; 48], &mut env).unwrap(), 0);
    }
    let mut args = [0u8; 256];
    args[..8].copy_from_slice(&0x1234u64.to_le_bytes());
    assert_eq!(inst.run("get_count", &args, &mut env), 3, "run() takes the JIT once compiled");

    let mut inst = instantiate("notify");
    inst.loaded.compile_jit(&JitOptions::default(), &mut jit::host::install).unwrap();
    let mut env = TestEnv::default();
    inst.run("notify", &[0u8; 168], &mut env);
    assert_eq!(env.lines, ["myfun called by pid 43 tgid 42"]);
}

#[test]
fn unknown_helper_is_rejected_at_load_with_its_id() {
    let mut obj = build_prog("notify");
    // `call 6` (bpf_trace_printk) becomes `call 999`.
    let call6 = [0x85, 0, 0, 0, 6, 0, 0, 0];
    let at = obj.windows(8).position(|w| w == call6).unwrap();
    obj[at + 4..at + 8].copy_from_slice(&999i32.to_le_bytes());
    let e = loader::parse(&obj).unwrap_err();
    assert_eq!(e.section.as_deref(), Some("kprobe/myfun"));
    assert_eq!(e.kind, LoadErrorKind::UnknownHelper { insn: 7, id: 999 });
    assert!(e.to_string().contains("unknown helper 999"), "{e}");
}

#[test]
fn non_bpf_or_broken_files_are_errors() {
    assert!(loader::parse(b"").is_err());
    assert!(loader::parse(b"\x7fELF garbage").is_err());
    let exe = std::fs::read("/proc/self/exe").unwrap();
    let e = loader::parse(&exe).unwrap_err();
    assert!(matches!(e.kind, LoadErrorKind::NotBpf(_)), "{e}");
    let mut obj = build_prog("count");
    obj.truncate(obj.len() / 2);
    assert!(loader::parse(&obj).is_err());
}

fn test_input(name: &str) -> Vec<u8> {
    common::build_c(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs").join(format!("{name}.c")))
}

#[test]
fn loader_errors_name_section_symbol_and_reason() {
    let e = loader::parse(&test_input("lru_map")).unwrap_err();
    assert_eq!((e.section.as_deref(), e.symbol.as_deref()), (Some(".maps"), Some("lru")), "{e}");
    assert!(e.to_string().contains("map type 9 is not supported"), "{e}");

    let e = loader::parse(&test_input("two_in_one")).unwrap_err();
    assert_eq!(e.section.as_deref(), Some("prog"));
    assert_eq!(e.kind, LoadErrorKind::SeveralPrograms(vec!["first".into(), "second".into()]));

}

#[test]
fn a_callback_address_becomes_pseudo_func() {
    // Once a loader error ("callbacks are not supported"); now `lddw` with
    // BPF_PSEUDO_FUNC pointing at the static function, as libbpf does.
    let bytes = test_input("callback");
    let obj = loader::parse(&bytes).unwrap();
    let p = &obj.programs[0];
    let (at, lddw) = p.insns.iter().enumerate().find(|(_, i)| i.opc == bpf_runtime::isa::LDDW).unwrap();
    assert_eq!(lddw.src, bpf_runtime::isa::PSEUDO_FUNC);
    let target = (at as i64 + lddw.imm as i64 + 1) as usize;
    assert!(target >= p.insns.len() - 2 && target < p.insns.len(), "step is the appended .text: {target} of {}", p.insns.len());
    let l = runtime::load(&bytes).unwrap();
    let mut vm = Vm::new();
    assert_eq!(l.run(&mut vm, 0, &[0; 256], &mut TestEnv::default()).unwrap(), 4, "bpf_loop(4, step) with step returning 0");
}

//! `bpf_for_each_map_elem` (helper 164): clang-built programs that walk an
//! array map and a hash map, accepted by the verifier (the callback checked
//! as a frame of its own, with a read-only key and the element's value) and
//! run on the interpreter and the JIT with the results the C computes; the
//! unsafe variants rejected at the instruction.

mod common;

use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{Engine, JitOptions};
use bpf_runtime::loader;
use bpf_runtime::runtime::{self, Loaded};
use bpf_runtime::verifier::{self, ErrorKind};
use common::TestEnv;

fn build(name: &str) -> Vec<u8> {
    common::build_c(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs").join(format!("{name}.c")))
}

fn loaded(blinding: bool) -> Loaded {
    let mut l = runtime::load(&build("for_each")).unwrap_or_else(|e| panic!("{e}"));
    let opts = if blinding { JitOptions::default() } else { JitOptions::trusted() };
    l.compile_jit(&opts, &mut bpf_runtime::jit::host::install).unwrap();
    l
}

fn run(l: &Loaded, engine: Engine, prog: &str) -> u64 {
    let mut vm = Vm::new();
    let i = l.find(prog).unwrap_or_else(|| panic!("no program {prog}"));
    l.run_on(engine, &mut vm, i, &[0u8; 256], &mut TestEnv::default()).unwrap_or_else(|e| panic!("{prog} on {engine:?}: {e}"))
}

fn u64_of(v: Vec<u8>) -> u64 {
    u64::from_le_bytes(v.try_into().unwrap())
}

#[test]
fn sums_an_array_and_a_hash_map_on_both_engines() {
    for (engine, blinding) in [(Engine::Interp, false), (Engine::Jit, false), (Engine::Jit, true)] {
        let l = loaded(blinding);
        let arr = l.maps.get(l.maps.find("arr").unwrap()).unwrap();
        let hash = l.maps.get(l.maps.find("hash").unwrap()).unwrap();
        for i in 0u32..16 {
            arr.update(&i.to_le_bytes(), &(i as u64 * 3).to_le_bytes(), 0).unwrap();
        }
        // 3 * (0 + ... + 15) = 360; indices 0..15 sum to 120.
        assert_eq!(run(&l, engine, "sum_array"), 360 * 1000 + 120, "{engine:?}");
        // Stops after index 5: six calls, six counted.
        assert_eq!(run(&l, engine, "stop_early"), 6 * 100 + 6, "{engine:?}");

        // An empty hash map: no call.
        assert_eq!(run(&l, engine, "sum_hash"), 0, "{engine:?}");
        let keys: Vec<u64> = (0..40).map(|i| 0x1000 + i * 77).collect();
        for (n, k) in keys.iter().enumerate() {
            hash.update(&k.to_le_bytes(), &(n as u64 + 1).to_le_bytes(), 0).unwrap();
        }
        hash.delete(&keys[7].to_le_bytes()).unwrap();
        let live: Vec<(u64, u64)> = keys.iter().enumerate().filter(|&(n, _)| n != 7).map(|(n, &k)| (k, n as u64 + 1)).collect();
        let sum: u64 = live.iter().map(|&(_, v)| v).sum();
        let xor = live.iter().fold(0, |x, &(k, _)| x ^ k);
        assert_eq!(run(&l, engine, "sum_hash"), sum * 1000 + live.len() as u64, "{engine:?}");
        assert_eq!(u64_of(arr.lookup(&0u32.to_le_bytes()).unwrap().unwrap()), xor, "{engine:?}: the callback saw every key");

        // The callback writes the value it is handed.
        assert_eq!(run(&l, engine, "double_hash"), live.len() as u64, "{engine:?}");
        for &(k, v) in &live {
            assert_eq!(u64_of(hash.lookup(&k.to_le_bytes()).unwrap().unwrap()), 2 * v, "{engine:?}");
        }
        assert_eq!(run(&l, engine, "bad_flags") as i64, -22, "{engine:?}: -EINVAL");
        // 16 array elements, each walking the 39 hash entries.
        assert_eq!(run(&l, engine, "nested"), 120 * 100000 + 16 * live.len() as u64, "{engine:?}");
    }
}

#[test]
fn unsafe_callbacks_are_rejected() {
    let obj = loader::parse(&build("for_each_reject")).unwrap();
    let verdict = |name: &str| {
        let p = obj.programs.iter().find(|p| p.name == name).unwrap();
        let e = verifier::verify(&p.insns, p.prog_type, &obj.maps).expect_err(name);
        println!("{name}: {e}");
        assert!(e.to_string().starts_with(&format!("insn {}: ", e.insn)), "{e}");
        e
    };
    let e = verdict("bad_return");
    assert!(matches!(e.kind, ErrorKind::CallbackReturn { helper: "bpf_for_each_map_elem", .. }), "{e}");
    assert!(e.to_string().contains("2..=2"), "{e}");
    let e = verdict("key_write");
    assert!(matches!(e.kind, ErrorKind::MapKeyAccess { .. }), "{e}");
    let e = verdict("value_oob");
    assert!(matches!(e.kind, ErrorKind::MapValueOutOfBounds { .. }), "{e}");
}

#[test]
fn walks_race_with_updates_from_another_thread() {
    // The hash map is walked (and its values doubled) on both engines
    // while another thread inserts and deletes keys: no error, no more
    // calls than entries, and the keys that stay are always seen.
    let l = std::sync::Arc::new(loaded(false));
    let hash = l.maps.shared(l.maps.find("hash").unwrap()).unwrap();
    for k in 0u64..8 {
        hash.update(&(1000 + k).to_le_bytes(), &1u64.to_le_bytes(), 0).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (hash, stop) = (hash.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let k = (round % 40).to_le_bytes();
                let _ = hash.update(&k, &round.to_le_bytes(), 0);
                let _ = hash.delete(&((round + 20) % 40).to_le_bytes());
                round += 1;
            }
        })
    };
    for i in 0..2000 {
        let engine = if i % 2 == 0 { Engine::Interp } else { Engine::Jit };
        let n = run(&l, engine, "double_hash");
        assert!((8..=64).contains(&n), "{engine:?}: {n} calls");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

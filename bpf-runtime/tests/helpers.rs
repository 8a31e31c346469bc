//! The helpers that need the embedder, through the verifier and the
//! interpreter with the test `Env` of `tests/common`: probe reads of good
//! and bad addresses (an error value and a zeroed buffer, never a fault),
//! strings, and the program types each helper allows.

mod common;
mod verifier_util;

use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{Input, Prepared, Vm};
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier::ErrorKind;
use common::{TestEnv, KERNEL_BASE, USER_BASE};
use verifier_util::{accepts_as, maps, prog, rejects_insns};

/// Verifies `src` as `pt`, runs it, returns r0.
fn run(src: &str, pt: ProgType) -> u64 {
    accepts_as(src, pt);
    let p = Prepared::new(&prog(src), maps().len()).unwrap();
    let maps = MapSet::new(&maps()).unwrap();
    let ctx = vec![0u8; pt.ctx_size()];
    Vm::new().run(&p, Input::ReadOnly(&ctx), &maps, &mut LinuxHelpers { env: &mut TestEnv::default() }).unwrap()
}

/// Fills fp-16..fp with 0xff, probe-reads 16 bytes from `addr` there with
/// helper `id`, and returns `ret_reg == 0 ? first 8 bytes : ret` (r0 is
/// the return value, r7 the first word).
fn probe(id: i32, addr: u64) -> (i64, u64) {
    let src = format!(
        "stdw [%r10-16], -1
         stdw [%r10-8], -1
         mov %r1, %r10
         add %r1, -16
         mov %r2, 16
         lddw %r3, {addr:#x}
         call {id}
         mov %r6, %r0
         ldxdw %r7, [%r10-16]
         mov %r0, %r6
         exit"
    );
    // r0 carries the result; the first word is read back in a second run.
    let ret = run(&src, ProgType::Kprobe) as i64;
    let word = run(&src.replace("mov %r0, %r6\n", "mov %r0, %r7\n"), ProgType::Kprobe);
    (ret, word)
}

#[test]
fn probe_read_copies_or_returns_efault_with_a_zeroed_buffer() {
    let (ret, word) = probe(113, KERNEL_BASE);
    assert_eq!((ret, word.to_le_bytes()), (0, *b"kernel s"));
    let (ret, word) = probe(112, USER_BASE);
    assert_eq!((ret, word.to_le_bytes()), (0, *b"/etc/pas"));
    for (id, addr) in [(113, KERNEL_BASE + 60), (113, 0), (112, KERNEL_BASE), (113, u64::MAX - 3)] {
        assert_eq!(probe(id, addr), (-14, 0), "helper {id} at {addr:#x}: -EFAULT and zeroes, no fault");
    }
}

#[test]
fn probe_read_str_stops_at_the_nul_and_counts_it() {
    let (ret, word) = probe(115, KERNEL_BASE);
    assert_eq!(ret, 14, "\"kernel string\" and its NUL");
    assert_eq!(word.to_le_bytes(), *b"kernel s");
    let (ret, _) = probe(114, USER_BASE);
    assert_eq!(ret, 12, "\"/etc/passwd\" and its NUL");
    // 16 bytes of a longer string: truncated, still NUL-terminated.
    let (ret, _) = probe(115, KERNEL_BASE + 15);
    assert_eq!(ret, 16);
    assert_eq!(probe(114, 0x10), (-14, 0));
}

#[test]
fn helpers_refuse_program_types_linux_refuses() {
    // bpf_get_func_ip needs a traced function.
    let get_ip = prog("call 173\nexit");
    rejects_insns(&get_ip, ProgType::Syscall, 0, |k| matches!(k, ErrorKind::HelperNotAllowed { helper: "bpf_get_func_ip", prog: "syscall" }));
    accepts_as("call 173\nexit", ProgType::Fentry);
    // bpf_kallsyms_lookup_name is for syscall programs only.
    let lookup = "stdw [%r10-8], 0x6e75 ; \"un\\0\"\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\nmov %r4, %r10\nadd %r4, -16\ncall 179\nexit";
    let lookup = lookup.replace(" ; \"un\\0\"", "");
    rejects_insns(&prog(&lookup), ProgType::Kprobe, 7, |k| matches!(k, ErrorKind::HelperNotAllowed { .. }));
    assert_eq!(run(&lookup, ProgType::Syscall) as i64, -2, "\"un\" is not a symbol: -ENOENT");
}

#[test]
fn ringbuf_output_wakes_the_consumer_unless_told_not_to() {
    let src = "stdw [%r10-8], 7\nlddw %r1, map2\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, FLAGS\ncall 130\nexit";
    for (flags, woken) in [(0, vec![2usize]), (1, vec![])] {
        let src = src.replace("FLAGS", &flags.to_string());
        accepts_as(&src, ProgType::Kprobe);
        let p = Prepared::new(&prog(&src), maps().len()).unwrap();
        let maps = MapSet::new(&maps()).unwrap();
        let mut env = TestEnv::default();
        let r = Vm::new().run(&p, Input::ReadOnly(&[0; 168]), &maps, &mut LinuxHelpers { env: &mut env }).unwrap();
        assert_eq!(r, 0);
        assert_eq!(env.wakeups, woken, "flags {flags}");
        assert_eq!(maps.get(2).unwrap().ringbuf_pop().unwrap().unwrap(), 7u64.to_le_bytes());
    }
}

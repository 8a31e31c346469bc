//! Shared by the native tests and the benchmark: BPF programs from
//! `bpf-progs/` built with clang, a runner over bpf-runtime, and the sites
//! of this very binary (its functions carry LLVM's patchable entries).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bpf_runtime::helpers::Env;
use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{Engine, JitOptions};
use bpf_runtime::runtime::{self, Loaded};
use tracer::{CallInfo, Runner, Site, SiteTable};

/// Compiles `bpf-progs/NAME.c` with the shared clang command line and loads
/// it (verified); with `jit`, also compiles it (trusted: no blinding).
pub fn load(name: &str, jit: bool) -> Arc<Loaded> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(format!("{name}.c"));
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let out = bpf_build::compile(&src, &tmp.join("bpf-progs"));
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut obj = runtime::load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    if jit {
        obj.compile_jit(&JitOptions::trusted(), &mut bpf_runtime::jit::host::install).unwrap();
    }
    Arc::new(obj)
}

/// A program of a loaded object: what the tracer's lists hold.
#[derive(Clone)]
pub struct Prog {
    pub obj: Arc<Loaded>,
    pub idx: usize,
}

impl Prog {
    pub fn new(obj: &Arc<Loaded>, name: &str) -> Prog {
        Prog { obj: obj.clone(), idx: obj.find(name).unwrap_or_else(|| panic!("no program {name}")) }
    }
}

/// Helpers' environment of a host process: the traced function's address
/// from the call, trace lines kept (the last one) and counted.
pub struct HostEnv {
    pub ip: u64,
    /// getpid once: the unikernel answers from the current task, not a syscall.
    pid: u64,
    pub lines: u64,
    pub last: String,
    start: Instant,
}

impl Default for HostEnv {
    fn default() -> Self {
        HostEnv { ip: 0, pid: std::process::id() as u64, lines: 0, last: String::new(), start: Instant::now() }
    }
}

impl Env for HostEnv {
    fn ktime_ns(&mut self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn trace(&mut self, line: &str) {
        self.lines += 1;
        self.last.clear();
        self.last.push_str(line);
    }
    fn prandom_u32(&mut self) -> u32 {
        4
    }
    fn pid_tgid(&mut self) -> u64 {
        (self.pid << 32) | self.pid
    }
    fn comm(&mut self) -> [u8; 16] {
        *b"tracer-host\0\0\0\0\0"
    }
    fn func_ip(&mut self) -> u64 {
        self.ip
    }
}

/// Runs attached programs on one engine; counts program errors.
pub struct BpfRunner {
    pub vm: Vm,
    pub env: HostEnv,
    pub engine: Engine,
    pub errors: u64,
    pub timing: Instant,
}

impl BpfRunner {
    pub fn new(engine: Engine) -> BpfRunner {
        BpfRunner { vm: Vm::new(), env: HostEnv::default(), engine, errors: 0, timing: Instant::now() }
    }

    /// Runs an on-demand (`syscall`) program with `args` at the start of its
    /// 256-byte context, as `ushell exec` does.
    pub fn exec(&mut self, obj: &Loaded, name: &str, args: &[u64]) -> u64 {
        let mut ctx = [0u8; 256];
        for (d, a) in ctx.as_chunks_mut::<8>().0.iter_mut().zip(args) {
            d.copy_from_slice(&a.to_ne_bytes());
        }
        obj.run_on(Engine::Interp, &mut self.vm, obj.find(name).unwrap(), &ctx, &mut self.env).unwrap()
    }
}

impl Runner<Prog> for BpfRunner {
    #[inline]
    fn run(&mut self, prog: &Prog, ctx: &[u8], call: &CallInfo<'_>) {
        self.env.ip = call.ip;
        if prog.obj.run_on(self.engine, &mut self.vm, prog.idx, ctx, &mut self.env).is_err() {
            self.errors += 1;
        }
    }
    fn now_ns(&mut self) -> u64 {
        self.timing.elapsed().as_nanos() as u64
    }
}

/// This binary's sites at link-time addresses.
fn own_table() -> &'static SiteTable {
    static T: OnceLock<SiteTable> = OnceLock::new();
    T.get_or_init(|| SiteTable::from_elf(&std::fs::read("/proc/self/exe").unwrap(), 0).unwrap())
}

/// The site of this binary's function `name`, which lives at `addr`: the
/// load bias is what separates the two.
pub fn own_site(name: &str, addr: u64) -> Site {
    let s = own_table().site(name).unwrap_or_else(|e| panic!("{e}"));
    let bias = addr.wrapping_sub(s.func);
    Site { func: s.func.wrapping_add(bias), addr: s.addr.wrapping_add(bias), ..s.clone() }
}

//! The facts replies carry: programs, maps, symbols, the kernel's state.
//! Plain data, with the protocol's own copies of the BPF kinds so this crate
//! depends on nothing of the runtime's.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// A program's kind, from its ELF section (Linux's `bpf_prog_type` as the
/// runtime distinguishes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgType {
    Fentry,
    Fexit,
    Kprobe,
    TracepointSysEnter,
    TracepointSysExit,
    RawTracepoint,
    /// `SEC("syscall")`: runnable on demand with [`crate::Request::Exec`].
    Syscall,
}

impl fmt::Display for ProgType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            ProgType::Fentry => "fentry",
            ProgType::Fexit => "fexit",
            ProgType::Kprobe => "kprobe",
            ProgType::TracepointSysEnter => "tracepoint (sys_enter)",
            ProgType::TracepointSysExit => "tracepoint (sys_exit)",
            ProgType::RawTracepoint => "raw_tracepoint",
            ProgType::Syscall => "syscall",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapType {
    Hash,
    Array,
    PercpuArray,
    Ringbuf,
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            MapType::Hash => "hash",
            MapType::Array => "array",
            MapType::PercpuArray => "percpu_array",
            MapType::Ringbuf => "ringbuf",
        })
    }
}

/// What makes two maps the same map (with the name): objects that declare
/// a map of the same name and definition share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDef {
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

impl fmt::Display for MapDef {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} key {} value {} max_entries {}", self.map_type, self.key_size, self.value_size, self.max_entries)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgInfo {
    pub id: u32,
    /// The function name.
    pub name: String,
    pub section: String,
    pub prog_type: ProgType,
    /// The object it came with (its upload name) and that object's id.
    pub object: String,
    pub object_id: u32,
    pub insns: u32,
    /// Ids of the maps it may use (its object's maps).
    pub maps: Vec<u32>,
    /// As bpftool's `run_cnt` and `run_time_ns`.
    pub run_count: u64,
    pub run_time_ns: u64,
    /// What runs it: the JIT's machine code or the interpreter.
    pub engine: Engine,
}

/// Which engine runs a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Engine {
    /// Machine code from the JIT (constant blinding on), the default.
    #[default]
    Jit,
    /// The interpreter: the reference engine.
    Interp,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Engine::Jit => "jit",
            Engine::Interp => "interp",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapInfo {
    pub id: u32,
    pub name: String,
    pub def: MapDef,
    /// Entries present (records waiting, for a ring buffer).
    pub entries: u32,
    /// Global data (`.data`, `.bss`, `.rodata`): private to its object.
    pub global_data: bool,
    pub read_only: bool,
    /// Objects using it: more than one when shared by name.
    pub objects: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    #[serde(with = "crate::bytes")]
    pub key: Vec<u8>,
    #[serde(with = "crate::bytes")]
    pub value: Vec<u8>,
}

/// The reply to a successful upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedObject {
    pub id: u32,
    pub name: String,
    pub progs: Vec<ProgInfo>,
    /// Its maps; a shared one shows every object using it.
    pub maps: Vec<MapInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SymOrigin {
    App,
    Kernel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    pub name: String,
    pub addr: u64,
    /// 0 when the symbol table does not say.
    pub size: u64,
    pub origin: SymOrigin,
}

/// An address as `symbol+offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolAt {
    pub symbol: Symbol,
    pub offset: u64,
}

impl fmt::Display for SymbolAt {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}+{:#x}", self.symbol.name, self.offset)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppState {
    Running,
    Exited { status: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub path: String,
    pub pid: u32,
    pub state: AppState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallCount {
    pub nr: u32,
    pub name: String,
    pub count: u64,
}

/// The kernel's state, as `ushell info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Name and version, e.g. `ushell-kernel 0.1.0`.
    pub kernel: String,
    pub mem_total: u64,
    pub mem_free: u64,
    pub uptime_ns: u64,
    pub app: AppInfo,
    /// Syscalls made so far, most frequent first.
    pub syscalls: Vec<SyscallCount>,
    pub progs: u32,
    pub maps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

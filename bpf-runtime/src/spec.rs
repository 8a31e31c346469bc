//! What the loader hands to the verifier and the interpreter: map
//! specifications and program types with their context sizes.

use alloc::string::String;

/// Linux `enum bpf_map_type` values for the map kinds we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    Hash = 1,
    Array = 2,
    PercpuArray = 6,
    Ringbuf = 27,
}

impl MapType {
    pub fn from_linux(v: u32) -> Option<MapType> {
        Some(match v {
            1 => MapType::Hash,
            2 => MapType::Array,
            6 => MapType::PercpuArray,
            27 => MapType::Ringbuf,
            _ => return None,
        })
    }
}

/// A map as declared by the object (BTF `.maps` entry or a global-data
/// section, which is a one-element array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    pub name: String,
    pub kind: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// For global data: the initial bytes of the single value (`.data`,
    /// `.rodata`); zeros for `.bss`.
    pub initial: Option<alloc::vec::Vec<u8>>,
    /// `.rodata`: the program may not write the value.
    pub read_only: bool,
}

/// The kind of program, from its ELF section name. It fixes the context
/// layout, which is read-only for every type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgType {
    /// `fentry/…`: u64 args[6].
    Fentry,
    /// `fexit/…`: u64 args[6] then the return value.
    Fexit,
    /// `kprobe/…`, `kretprobe/…`: x86-64 `struct pt_regs`.
    Kprobe,
    /// `tracepoint/raw_syscalls/sys_enter`, `tracepoint/syscalls/sys_enter_*`.
    TracepointSysEnter,
    /// `tracepoint/raw_syscalls/sys_exit`, `tracepoint/syscalls/sys_exit_*`.
    TracepointSysExit,
    /// `raw_tracepoint/…`: u64 args array.
    RawTracepoint,
    /// `syscall`, `prog` and anything else run on demand: a 256-byte buffer.
    Syscall,
}

impl ProgType {
    /// Context size in bytes; every access must fall inside it.
    pub const fn ctx_size(self) -> usize {
        match self {
            ProgType::Fentry => 6 * 8,
            ProgType::Fexit => 7 * 8,
            ProgType::Kprobe => 21 * 8,
            // struct trace_event_raw_sys_enter: 8-byte common header, long id, unsigned long args[6]
            ProgType::TracepointSysEnter => 8 + 8 + 6 * 8,
            // struct trace_event_raw_sys_exit: 8-byte header, long id, long ret
            ProgType::TracepointSysExit => 8 + 8 + 8,
            ProgType::RawTracepoint => 6 * 8,
            ProgType::Syscall => 256,
        }
    }
}

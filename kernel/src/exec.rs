//! Starting a program. At boot, [`read_run_description`] takes argv and
//! envp from the initrd; [`exec_image`], which execve will reuse, maps the
//! ELF (static or static-PIE) into a fresh address space, builds the Linux
//! initial stack and a one-page trampoline, and returns where to enter
//! ring 3.

use crate::arch::mem::PAGE_SIZE;
use crate::fs::{self, fdtable::FdTable, console::Console, file::OpenFile};
use crate::mm::aspace::{AddressSpace, Prot, VmaName};
use crate::mm::user;
use crate::process::{FsContext, Process, UserContext, INIT_PID};
use alloc::sync::Arc;
use alloc::string::String;
use alloc::vec::Vec;
use elfload::{plan, stack, ElfKind};
use linux_abi::auxv::*;
use linux_abi::flags::{O_RDONLY, O_WRONLY};
use ramfs::ROOT;

const STACK_SIZE: u64 = 8 << 20;
const STACK_TOP_BASE: u64 = 0x7ffe_0000_0000;
/// The trampoline page: `fninit` in ring 3 (x87 state must be Linux's
/// default, and PVM cannot run x87 setup in ring 0), then a jump to the entry.
const TRAMPOLINE: u64 = 0x7fff_ffff_0000;
const PIE_BASE: u64 = 0x5555_5555_4000;

#[derive(Debug)]
pub enum ExecError {
    NoRunDescription,
    NotFound(String),
    Elf(elfload::ElfError),
    Memory(linux_abi::Errno),
}

impl core::fmt::Display for ExecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExecError::NoRunDescription => write!(f, "the initrd has no {} (was it packed by `ushell run`?)", runproto::ARGV_FILE),
            ExecError::NotFound(p) => write!(f, "{p}: no such file in the initrd"),
            ExecError::Elf(e) => write!(f, "{e}"),
            ExecError::Memory(e) => write!(f, "out of memory while loading ({e:?})"),
        }
    }
}

fn read_list(path: &str) -> Option<Vec<Vec<u8>>> {
    fs::with(|v| {
        let ino = v.tree.lookup(ROOT, path.as_bytes(), true).ok()?;
        let bytes = v.tree.read_to_vec(ino, 0, usize::MAX).ok()?;
        Some(runproto::nul_list(&bytes).map(|s| s.to_vec()).collect())
    })
}

fn file_bytes(path: &[u8]) -> Option<&'static [u8]> {
    fs::with(|v| {
        let ino = v.tree.lookup(ROOT, path, true).ok()?;
        match v.tree.borrowed(ino).ok()? {
            Some(b) => Some(b),
            // Written files are copied out once; exec happens once per boot.
            None => Some(&*alloc::boxed::Box::leak(v.tree.read_to_vec(ino, 0, usize::MAX).ok()?.into_boxed_slice())),
        }
    })
}

fn map_segments(mm: &mut AddressSpace, image: &[u8], p: &elfload::LoadPlan, bias: u64) -> Result<u64, linux_abi::Errno> {
    let mut top = 0;
    for s in &p.segments {
        let (lo, hi) = s.page_range();
        let prot = Prot { read: s.read, write: s.write, exec: s.exec };
        // Segments may share an edge page: widen the earlier VMA's rights.
        let mut start = lo + bias;
        if let Some((vs, v)) = mm.find(start) {
            let merged = Prot { read: v.prot.read || prot.read, write: v.prot.write || prot.write, exec: v.prot.exec || prot.exec };
            mm.protect(vs.max(start), PAGE_SIZE, merged)?;
            start += PAGE_SIZE;
        }
        if start < hi + bias {
            mm.map_fixed(start, hi + bias - start, Prot { write: true, ..prot }, VmaName::Image)?;
        }
        let file = &image[s.file_offset as usize..(s.file_offset + s.filesz) as usize];
        user::copy_to_user(mm, s.vaddr + bias, file)?;
        if start < hi + bias {
            mm.protect(start, hi + bias - start, prot)?;
        }
        top = top.max(hi + bias);
    }
    Ok(top)
}

/// The run description `ushell run` packed into the initrd: read once at
/// boot, then removed so the app never sees it.
pub struct RunDescription {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
}

pub fn read_run_description() -> Result<RunDescription, ExecError> {
    let argv = read_list(runproto::ARGV_FILE).filter(|a| !a.is_empty()).ok_or(ExecError::NoRunDescription)?;
    let envp = read_list(runproto::ENVP_FILE).unwrap_or_default();
    fs::with(|v| {
        if let Ok(dir) = v.tree.lookup(ROOT, runproto::RUN_DIR.as_bytes(), false) {
            for e in v.tree.readdir(dir, 2).unwrap_or_default() {
                let _ = v.tree.remove(dir, &e.name, false);
            }
            let _ = v.tree.remove(ROOT, runproto::RUN_DIR.as_bytes(), true);
        }
    });
    Ok(RunDescription { argv, envp })
}

/// The first process, before any program is in it: standard descriptors
/// on the console, root directory, no memory.
fn new_process() -> Result<Process, ExecError> {
    let mut files = FdTable::default();
    for (con, flags) in [(Console::Stdin, O_RDONLY), (Console::Stdout, O_WRONLY), (Console::Stderr, O_WRONLY)] {
        let _ = files.insert(OpenFile::new(Arc::new(con), flags), false);
    }
    let mm = AddressSpace::try_new().map_err(ExecError::Memory)?;
    Ok(Process::new(INIT_PID, 0, mm, files, FsContext { cwd: ROOT, umask: 0o022 }))
}

/// Boot: the program named by the run description in a new process.
pub fn load() -> Result<(Arc<Process>, UserContext), ExecError> {
    let desc = read_run_description()?;
    let process = new_process()?;
    let entry = exec_image(&process, &desc.argv[0], &desc.argv, &desc.envp)?;
    Ok((Arc::new(process), entry))
}

/// Replaces `process`'s program with the ELF at `path` (what execve will
/// do): a fresh address space with the image, stack and trampoline, the
/// identity the program is known by, and where to enter ring 3. The
/// process is unchanged if this fails.
pub fn exec_image(process: &Process, path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<UserContext, ExecError> {
    let r = build_image(process, path, argv, envp);
    if r.is_err() {
        // Building switched CR3 to the new tables: back to the old ones.
        process.mm().lock().activate();
    }
    r
}

fn build_image(process: &Process, path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<UserContext, ExecError> {
    let exe = path.to_vec();
    let exe_str = String::from_utf8_lossy(&exe).into_owned();
    let image = file_bytes(&exe).ok_or_else(|| ExecError::NotFound(exe_str.clone()))?;
    let plan = plan::plan(image).map_err(ExecError::Elf)?;

    let mut mm = AddressSpace::try_new().map_err(ExecError::Memory)?;
    // No swap: a writable mapping larger than RAM could never be backed.
    mm.commit_limit = crate::arch::mem::stats().0;
    // user::copy_to_user translates through CR3: load the new tables first.
    mm.activate();
    let bias = match plan.kind {
        ElfKind::Exec => 0,
        ElfKind::StaticPie => PIE_BASE + (crate::random::next_u64() % 0x10000) * PAGE_SIZE,
    };
    let image_end = map_segments(&mut mm, image, &plan, bias).map_err(ExecError::Memory)?;
    mm.brk_start = image_end;
    mm.brk = image_end;

    let stack_top = STACK_TOP_BASE - (crate::random::next_u64() % 0x4000) * PAGE_SIZE;
    // The stack is a reservation, like Linux's grows-down stack VMA: its
    // pages are committed as they are touched, so the per-request commit
    // limit does not apply to it (an 8 MiB stack runs in a 2 MiB guest).
    let limit = core::mem::replace(&mut mm.commit_limit, u64::MAX);
    let stack = mm.map_fixed(stack_top - STACK_SIZE, STACK_SIZE, Prot::RW, VmaName::Stack);
    mm.commit_limit = limit;
    stack.map_err(ExecError::Memory)?;
    // Leave a gap below the stack like Linux's mmap_base, randomized.
    mm.mmap_base = stack_top - STACK_SIZE - (128 << 20) - (crate::random::next_u64() % 0x1000) * PAGE_SIZE;
    mm.mmap_min = image_end.max(0x1000_0000) + (1 << 30);

    let entry = plan.entry + bias;
    let mut tramp = Vec::from([0xdb, 0xe3, 0xff, 0x25, 0, 0, 0, 0]); // fninit; jmp [rip+0]
    tramp.extend_from_slice(&entry.to_le_bytes());
    mm.map_fixed(TRAMPOLINE, PAGE_SIZE, Prot::RW, VmaName::Trampoline).map_err(ExecError::Memory)?;
    user::copy_to_user(&mut mm, TRAMPOLINE, &tramp).map_err(ExecError::Memory)?;
    mm.protect(TRAMPOLINE, PAGE_SIZE, Prot { read: true, write: false, exec: true }).map_err(ExecError::Memory)?;

    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let hwcap = crate::arch::cpu::cpuid(1, 0).edx as u64;
    let auxv = [
        (AT_PHDR, plan.phdr_vaddr + bias),
        (AT_PHENT, plan.phent),
        (AT_PHNUM, plan.phnum),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_HWCAP, hwcap),
        (AT_HWCAP2, 0),
        (AT_CLKTCK, 100),
        (AT_SECURE, 0),
    ];
    let argv_refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(|a| a.as_slice()).collect();
    let img = stack::build(stack_top, &stack::StackSpec { argv: &argv_refs, envp: &envp_refs, auxv: &auxv, random, execfn: &exe });
    user::copy_to_user(&mut mm, img.sp, &img.bytes).map_err(ExecError::Memory)?;

    let exe_abs = if exe.starts_with(b"/") { exe_str.clone() } else { alloc::format!("/{exe_str}") };
    fs::with(|v| fs::initrd::set_exe_link(v, exe_abs.as_bytes()));
    // Nothing can fail from here on: the old program is replaced.
    drop(process.replace_mm(mm));
    let comm = exe_str.rsplit('/').next().unwrap_or("").chars().take(15).collect();
    *process.exe.lock() = crate::process::Executable { path: exe_abs, comm, image, load_bias: bias };
    Ok(UserContext { rip: TRAMPOLINE, rsp: img.sp, fs_base: 0, gs_base: 0 })
}

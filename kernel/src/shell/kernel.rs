//! The kernel as the shell sees it: `ushell::Kernel` over the kernel's
//! clock, randomness, process table, symbols and memory statistics, and
//! the checked memory reads behind `bpf_probe_read_{user,kernel}`, and
//! executable memory for the JIT.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bpf_runtime::helpers::{AddrSpace, EFAULT};
use bpf_runtime::jit::{ExecMemory, JitError};
use shellproto::{AppInfo, AppState, SymOrigin, Symbol, SymbolAt};
use shellproto::Space;
use tracer::{PokeError, SiteTable, Text};
use ushell::{KernelFacts, Task};

use crate::process::{self, Process, INIT_PID};

const VERSION: &str = concat!("ushell-kernel ", env!("CARGO_PKG_VERSION"));

/// The app's symbols, parsed from its image once per image.
struct AppSymbols {
    /// Identifies the image: (address, length, load bias).
    key: (usize, usize, u64),
    symbols: Vec<Symbol>,
}

/// The app's patch sites, found once per image.
struct AppSites {
    key: (usize, usize, u64),
    table: Arc<SiteTable>,
}

/// The shell's kernel, and (with nothing cached) the helpers' environment
/// of traced runs.
#[derive(Default)]
pub struct ShellKernel {
    kernel_symbols: Option<Arc<Vec<Symbol>>>,
    app_symbols: Option<AppSymbols>,
    kernel_sites: Option<Arc<SiteTable>>,
    app_sites: Option<AppSites>,
}

fn app() -> Option<Arc<Process>> {
    process::by_pid(INIT_PID)
}

impl ShellKernel {
    /// Refreshes the cached symbol tables (the kernel's once, the app's
    /// whenever its image changed).
    fn load_symbols(&mut self) {
        if self.kernel_symbols.is_none() {
            self.kernel_symbols = Some(Arc::new(super::ksyms::parse()));
        }
        let Some(p) = app() else { return };
        let exe = p.exe.lock();
        let key = (exe.image.as_ptr() as usize, exe.image.len(), exe.load_bias);
        if self.app_symbols.as_ref().is_some_and(|a| a.key == key) {
            return;
        }
        let table = elfload::symbols::Symbols::from_elf(exe.image, exe.load_bias);
        let symbols = table.iter().map(|(addr, size, name)| Symbol { name: String::from(name), addr, size, origin: SymOrigin::App }).collect();
        self.app_symbols = Some(AppSymbols { key, symbols });
    }

    fn tables(&self) -> [&[Symbol]; 2] {
        [self.app_symbols.as_ref().map_or(&[][..], |a| &a.symbols), self.kernel_symbols.as_deref().map_or(&[][..], |k| k)]
    }

    /// Prepares the tables before a request that may search them
    /// (`for_each_symbol` and `symbol_at` take `&self`).
    pub fn refresh(&mut self) {
        self.load_symbols();
    }
}

/// The symbol of a sorted table containing `addr`: as `elfload`'s lookup,
/// a symbol of size 0 covers only its own address.
fn containing(table: &[Symbol], addr: u64) -> Option<SymbolAt> {
    let idx = table.partition_point(|s| s.addr <= addr);
    table[..idx]
        .iter()
        .rev()
        .take(8)
        .find(|s| addr - s.addr < s.size.max(1))
        .map(|s| SymbolAt { symbol: s.clone(), offset: addr - s.addr })
}

impl ShellKernel {
    fn app_site_table(&mut self) -> Option<Arc<SiteTable>> {
        let p = app()?;
        if p.exit_status().is_some() {
            return None;
        }
        let exe = p.exe.lock();
        let key = (exe.image.as_ptr() as usize, exe.image.len(), exe.load_bias);
        if let Some(a) = self.app_sites.as_ref().filter(|a| a.key == key) {
            return Some(a.table.clone());
        }
        let table = match SiteTable::from_elf(exe.image, exe.load_bias) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                crate::kinfo!("trace: the app's image has no usable symbols: {e}");
                Arc::new(SiteTable::default())
            }
        };
        self.app_sites = Some(AppSites { key, table: table.clone() });
        Some(table)
    }

    /// The kernel's sites: its functions (symbols inside `.text`) whose
    /// first bytes are a patchable entry, read once, before anything is
    /// attached.
    fn kernel_site_table(&mut self) -> Arc<SiteTable> {
        if let Some(t) = &self.kernel_sites {
            return t.clone();
        }
        self.load_symbols();
        let (start, end) = crate::arch::tracing::kernel_text();
        let syms = self.kernel_symbols.clone().unwrap_or_default();
        let funcs = syms.iter().filter(|s| s.addr >= start && s.addr < end).map(|s| (s.addr, s.size, s.name.clone()));
        let table = Arc::new(SiteTable::from_functions(funcs, &mut |addr, buf| crate::arch::tracing::read_kernel_text(addr, buf).is_ok()));
        self.kernel_sites = Some(table.clone());
        table
    }
}

impl ushell::Kernel for ShellKernel {
    fn tracing(&self) -> Option<&'static ushell::trace::Tracing> {
        crate::trace::tracing()
    }

    fn site_table(&mut self, space: Space) -> Option<Arc<SiteTable>> {
        match space {
            Space::App => self.app_site_table(),
            Space::Kernel => Some(self.kernel_site_table()),
        }
    }

    fn with_text(&mut self, space: Space, f: &mut dyn FnMut(&mut Text<'_>)) -> Result<(), String> {
        match space {
            Space::Kernel => {
                f(&mut Text { poke: &mut crate::trace::KernelPoke, mem: &mut crate::trace::KernelTramps, stopped_ips: &[] });
                Ok(())
            }
            Space::App => {
                let p = app().ok_or_else(|| String::from("the app is not running"))?;
                if p.exit_status().is_some() {
                    return Err("the app has exited".into());
                }
                let mm = p.mm();
                let mut guard = mm.lock();
                let cell = core::cell::RefCell::new(&mut *guard);
                let stopped: Vec<u64> = crate::trap::user_stopped_at().into_iter().collect();
                let mut poke = crate::trace::AppPoke { mm: &cell };
                let mut mem = crate::trace::AppTramps { mm: &cell };
                f(&mut Text { poke: &mut poke, mem: &mut mem, stopped_ips: &stopped });
                Ok(())
            }
        }
    }

    fn syscall_hook(&mut self, on: bool) {
        crate::systrace::set_wanted(on);
    }

    fn read_text(&mut self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        use tracer::TextPoke;
        match space {
            Space::Kernel => crate::trace::KernelPoke.read(addr, buf),
            Space::App => {
                let p = app().ok_or(PokeError::NotMapped(addr))?;
                let mm = p.mm();
                let mut guard = mm.lock();
                let cell = core::cell::RefCell::new(&mut *guard);
                crate::trace::AppPoke { mm: &cell }.read(addr, buf)
            }
        }
    }

    fn version(&self) -> &str {
        VERSION
    }

    fn now_ns(&mut self) -> u64 {
        crate::time::monotonic_ns()
    }

    fn random_u32(&mut self) -> u32 {
        crate::random::next_u64() as u32
    }

    /// W^X pages in the kernel half (`arch::execmem`), freed with the program.
    fn exec_memory(&mut self, code: &[u8]) -> Result<Box<dyn ExecMemory>, JitError> {
        let pages = crate::arch::execmem::ExecPages::with_code(code).map_err(JitError::Exec)?;
        Ok(Box::new(pages))
    }

    /// Programs run on behalf of the app: its pid (= tid of its one
    /// thread) and comm, so `bpf_get_current_pid_tgid` in an `exec`ed
    /// program names the process being debugged.
    fn current_task(&self) -> Task {
        let mut comm = [0u8; 16];
        let pid = match app() {
            Some(p) => {
                let exe = p.exe.lock();
                let n = exe.comm.len().min(15);
                comm[..n].copy_from_slice(&exe.comm.as_bytes()[..n]);
                p.pid
            }
            None => 0,
        };
        Task { pid, tgid: pid, comm }
    }

    fn for_each_symbol(&self, f: &mut dyn FnMut(&Symbol) -> bool) {
        for table in self.tables() {
            for s in table {
                if !f(s) {
                    return;
                }
            }
        }
    }

    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        self.tables().iter().find_map(|t| containing(t, addr))
    }

    /// Syscall counts are not kept yet (the syscall path has no counters);
    /// the list is empty.
    fn facts(&mut self) -> KernelFacts {
        let (total, used) = crate::arch::mem::stats();
        let app = match app() {
            Some(p) => AppInfo {
                path: p.exe.lock().path.clone(),
                pid: p.pid,
                state: match p.exit_status() {
                    Some(s) => AppState::Exited { status: s as i32 },
                    None => AppState::Running,
                },
            },
            None => AppInfo { path: String::new(), pid: 0, state: AppState::Exited { status: 0 } },
        };
        KernelFacts { mem_total: total, mem_free: total.saturating_sub(used), uptime_ns: crate::time::monotonic_ns(), app, syscalls: Vec::new() }
    }

    /// User addresses are read through the app's address space with the
    /// checked copies of `mm::user` (a bad address is -EFAULT, never a
    /// fault); kernel addresses only inside the image's `.rodata`, which
    /// nothing writes, so the read races with nothing. Other kernel memory
    /// (heap, stacks, `.data`) is refused with -EFAULT for now.
    fn probe_read(&mut self, space: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
        match space {
            AddrSpace::User => {
                if addr.checked_add(dst.len() as u64).is_none_or(|e| e > crate::arch::paging::USER_END) {
                    return Err(EFAULT);
                }
                let p = app().ok_or(EFAULT)?;
                if p.exit_status().is_some() {
                    return Err(EFAULT);
                }
                let mm = p.mm();
                let mut mm = mm.lock();
                // The checked copies translate through CR3: only the app's
                // own page tables may be the ones in use.
                if !mm.page_table().is_active() {
                    return Err(EFAULT);
                }
                crate::mm::user::copy_from_user(&mut mm, addr, dst).map_err(|_| EFAULT)
            }
            AddrSpace::Kernel => {
                let (start, rodata) = crate::arch::mem::kernel_rodata();
                let off = addr.checked_sub(start).ok_or(EFAULT)? as usize;
                let src = rodata.get(off..off.checked_add(dst.len()).ok_or(EFAULT)?).ok_or(EFAULT)?;
                dst.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

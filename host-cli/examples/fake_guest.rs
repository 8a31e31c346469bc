//! A stand-in for QEMU and the kernel in host-cli's supervisor tests (never
//! in end-to-end tests, which boot the real kernel). `ushell run` starts it
//! through `USHELL_QEMU` with the QEMU command line it would give QEMU; it
//! takes from it what a VM would use:
//!
//! * `-chardev socket,id=ushell0,path=P`: connects to the supervisor's
//!   console socket and serves it with the real shell library
//!   (`ushell::Server`, real bpf-runtime, real verifier) behind a fake
//!   kernel: a counting clock and a few symbols (`main`, `myfun`, `spin`).
//! * `-chardev file,id=ctl,path=C`: writes `ready`, and `exit N` at the end.
//! * COM1/COM2: prints `fake app: hello` on stdout and a `[ushell] ` kernel
//!   line on stderr, as the app and the kernel would.
//!
//! It exits with status N when the file `$FAKE_GUEST_EXIT` appears holding
//! N (the test says when the "app" ends), or when the console closes.
//!
//! With `FAKE_GUEST_TRACE=1` its kernel can trace: the real tracer patches
//! a function of this process that a thread calls in a loop (see
//! `fake_guest/trace.rs`); without, it answers as a kernel without a tracer.
#![feature(patchable_function_entry)]

#[path = "fake_guest/trace.rs"]
mod trace;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use shellproto::upload::Limits;
use shellproto::{AppInfo, AppState, SymOrigin, Symbol, SymbolAt, SyscallCount};
use ushell::{Kernel, KernelFacts, Server, Task};

struct FakeKernel {
    clock: u64,
    symbols: Vec<Symbol>,
    trace: Option<trace::TraceHost>,
}

impl Kernel for FakeKernel {
    fn version(&self) -> &str {
        "fake-guest 0.1"
    }
    fn now_ns(&mut self) -> u64 {
        self.clock += 1000;
        self.clock
    }
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn current_task(&self) -> Task {
        Task { pid: 2, tgid: 2, comm: *b"ushell\0\0\0\0\0\0\0\0\0\0" }
    }
    fn for_each_symbol(&self, f: &mut dyn FnMut(&Symbol) -> bool) {
        for s in &self.symbols {
            if !f(s) {
                return;
            }
        }
    }
    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        let s = self.symbols.iter().find(|s| (s.addr..s.addr + s.size).contains(&addr))?;
        Some(SymbolAt { symbol: s.clone(), offset: addr - s.addr })
    }
    fn facts(&mut self) -> KernelFacts {
        KernelFacts {
            mem_total: 64 << 20,
            mem_free: 60 << 20,
            uptime_ns: self.clock,
            app: AppInfo { path: "/app".into(), pid: 1, state: AppState::Running },
            syscalls: vec![SyscallCount { nr: 1, name: "write".into(), count: 1 }],
        }
    }
    fn tracing(&self) -> Option<&'static ushell::trace::Tracing> {
        self.trace.as_ref()?.tracing()
    }
    fn site_table(&mut self, space: shellproto::Space) -> Option<std::sync::Arc<tracer::SiteTable>> {
        self.trace.as_ref()?.site_table(space)
    }
    fn with_text(&mut self, space: shellproto::Space, f: &mut dyn FnMut(&mut tracer::Text<'_>)) -> Result<(), String> {
        match (&mut self.trace, space) {
            (Some(t), shellproto::Space::App) => {
                t.with_text(f);
                Ok(())
            }
            _ => Err("this fake guest patches only its app's code, with FAKE_GUEST_TRACE=1".into()),
        }
    }
    fn read_text(&mut self, space: shellproto::Space, addr: u64, buf: &mut [u8]) -> Result<(), tracer::PokeError> {
        match (&mut self.trace, space) {
            (Some(t), shellproto::Space::App) => t.read_text(addr, buf),
            _ => Err(tracer::PokeError::NotMapped(addr)),
        }
    }
}

fn option(args: &[String], prefix: &str) -> Option<String> {
    args.iter().find_map(|a| a.split(',').find_map(|kv| kv.strip_prefix("path=")).filter(|_| a.starts_with(prefix)).map(str::to_owned))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let console = option(&args, "socket,id=ushell0,").expect("no console chardev in the command line");
    let ctl = PathBuf::from(option(&args, "file,id=ctl,").expect("no ctl chardev"));
    let exit_file = std::env::var_os("FAKE_GUEST_EXIT").map(PathBuf::from);
    let stream = UnixStream::connect(&console).expect("connecting to the console socket");
    std::fs::write(&ctl, "ready\n").unwrap();
    println!("fake app: hello");
    eprintln!("[ushell] fake kernel: console connected");
    let _ = std::io::stdout().flush();

    std::thread::spawn(move || {
        let Some(f) = exit_file else { return };
        loop {
            if let Ok(text) = std::fs::read_to_string(&f) {
                if let Ok(n) = text.trim().parse::<u8>() {
                    println!("fake app: exiting with {n}");
                    std::fs::write(&ctl, format!("ready\nexit {n}\n")).unwrap();
                    std::process::exit(1);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });

    let sym = |name: &str, addr, origin| Symbol { name: name.into(), addr, size: 0x40, origin };
    let trace = (std::env::var("FAKE_GUEST_TRACE").as_deref() == Ok("1")).then(trace::TraceHost::start);
    let kernel = FakeKernel {
        trace,
        clock: 0,
        symbols: vec![
            sym("main", 0x401000, SymOrigin::App),
            sym("myfun", 0x401100, SymOrigin::App),
            sym("spin", 0x401200, SymOrigin::App),
            sym("kmain", 0xffff_ffff_8000_0000, SymOrigin::Kernel),
        ],
    };
    let mut server = Server::new(kernel, Limits::default());
    let mut reader = stream.try_clone().unwrap();
    let mut writer = stream;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        out.clear();
        server.receive(&buf[..n], &mut out);
        server.poll(&mut out);
        if writer.write_all(&out).is_err() {
            break;
        }
    }
    server.disconnected();
}

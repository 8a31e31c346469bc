//! The debug shell, served on the virtio console: a kernel task reads the
//! bytes the host sends (shellproto `ClientMsg` frames), feeds them to
//! `ushell::Server`, which runs the commands (load, exec, maps, sym, info)
//! over [`kernel::ShellKernel`] (programs JIT-compiled into W^X pages unless
//! the client asks for the interpreter), and writes back what the server produces
//! (`ServerMsg` frames: replies, `bpf_printk` lines and ring-buffer records
//! as events). Program output never goes near the app's stdout.
//!
//! The task blocks between rounds and is woken by the console's interrupt
//! (or, as a fallback, the next timer tick), so it costs nothing while the
//! host is quiet; the timer preempts an app spinning in ring 3, so the shell
//! answers even then. The host is not trusted: bad frames get `BadFrame`
//! replies and the decoder resynchronizes; a new hello starts a new session
//! (the host reconnected), aborting unfinished uploads.
//!
//! Without a virtio console (no `virtio_mmio.device=` naming one on the
//! command line) there is no shell and the kernel runs as before.

mod kernel;
mod ksyms;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use shellproto::upload::Limits;
use shellproto::{Event, LogLevel};
use virtio_drivers::transport::DeviceType;

use crate::drivers::virtio::{self, MmioDevice};
use crate::drivers::virtio_console::Console;
use crate::task::WaitQueue;
use kernel::ShellKernel;
/// The helpers' environment of traced runs (the shell's kernel, no caches).
pub use kernel::ShellKernel as TraceKernel;

/// Output the device has not taken yet beyond which the shell stops
/// serving requests until it drains (a host that does not read).
const MAX_PENDING_OUT: usize = 1 << 20;
/// Output waiting beyond which the shell leaves ring-buffer records and
/// syscall records where they are (their rings fill and count what they
/// drop, which is reported): a slow reader then still gets its replies
/// (a `TraceStop` under a full stream) long before [`MAX_PENDING_OUT`].
const POLL_BELOW: usize = 2 * shellproto::flow::WINDOW as usize;
/// Longest the task sleeps without an interrupt: catches a lost one.
const FALLBACK_WAKE_NS: u64 = 100_000_000;

/// `ushell.shell=stats`: after every round that answered requests, an
/// `Event::Kernel` line with the guest TSC ticks the round took from the
/// interrupt to the reply handed to the device (instructions under
/// `-icount shift=0`), for the benchmark.
static STATS: AtomicBool = AtomicBool::new(false);

static WAKE: WaitQueue = WaitQueue::new();
/// Set by the interrupt, taken by the task.
static KICKED: AtomicBool = AtomicBool::new(false);
/// TSC at the first interrupt not yet handled (0: none).
static KICK_TSC: AtomicU64 = AtomicU64::new(0);
/// The interrupt line has been routed: the task may sleep long.
static IRQ_ROUTED: AtomicBool = AtomicBool::new(false);
/// The task serves a console.
static SERVING: AtomicBool = AtomicBool::new(false);
/// The last round produced nothing and left nothing unsent.
static QUIET: AtomicBool = AtomicBool::new(true);
/// When the final flush gives up (monotonic ns; 0: not begun).
static FLUSH_DEADLINE: AtomicU64 = AtomicU64::new(0);
/// Longest the power-off waits for the shell's last output.
const FINAL_FLUSH_NS: u64 = 2_000_000_000;

/// The app has exited: whether the power-off should wait for the shell to
/// send what it still holds (syscall records, program output, replies),
/// at most [`FINAL_FLUSH_NS`]. Kicks the task while it has work.
pub fn flush_pending() -> bool {
    if !SERVING.load(Ordering::Relaxed) {
        return false;
    }
    let now = crate::time::monotonic_ns();
    match FLUSH_DEADLINE.load(Ordering::Relaxed) {
        0 => {
            FLUSH_DEADLINE.store(now + FINAL_FLUSH_NS, Ordering::Relaxed);
            QUIET.store(false, Ordering::Relaxed);
        }
        d if now > d => return false,
        _ if QUIET.load(Ordering::Relaxed) => return false,
        _ => {}
    }
    wake();
    true
}

/// Makes the task run its next round (from wherever: it may be running).
fn wake() {
    KICKED.store(true, Ordering::Release);
    WAKE.wake_all();
}

/// Parses the shell's command-line word (`ushell.shell=stats`).
pub fn set_option(v: &str) {
    for opt in v.split(',') {
        match opt {
            "stats" => STATS.store(true, Ordering::Relaxed),
            _ => crate::kinfo!("shell: unknown option `ushell.shell={opt}` ignored"),
        }
    }
}

/// Starts the shell's task, which finds the virtio console (the device's
/// setup then costs the boot nothing) and serves it; without a console the
/// task ends at once.
pub fn start(cmdline: &str) {
    let devices = virtio::devices_from_cmdline(cmdline);
    if devices.is_empty() {
        crate::kdebug!("shell: no virtio device on the command line: no debug shell");
        return;
    }
    if let Err(e) = crate::task::spawn("shell", move || find_and_serve(devices)) {
        crate::kinfo!("shell: no memory for the shell's task ({e:?}): no debug shell");
    }
}

fn find_and_serve(devices: Vec<MmioDevice>) {
    let found = devices.into_iter().find_map(|d| virtio::probe(&d, DeviceType::Console).map(|t| (d, t)));
    let Some((dev, transport)) = found else {
        crate::kdebug!("shell: no virtio console on the command line: no debug shell");
        return;
    };
    let console = match Console::new(transport) {
        Ok(c) => c,
        Err(e) => {
            crate::kinfo!("shell: the virtio console at {:#x} failed to start ({e}): no debug shell", dev.base);
            return;
        }
    };
    let routed = crate::arch::ioapic::route(dev.irq, crate::arch::idt::DEVICE_VECTOR as u8);
    IRQ_ROUTED.store(routed, Ordering::Relaxed);
    crate::kdebug!("shell: virtio console at {:#x} irq {} ({})", dev.base, dev.irq, if routed { "interrupt" } else { "polled every tick" });
    serve(console, dev)
}

/// The console's interrupt (from the trap handler, after EOI): wakes the
/// task. The device is acknowledged by the task, which also reads the
/// queues; the I/O APIC line is edge-triggered, so a new used buffer after
/// that acknowledgement raises a new interrupt.
pub fn on_interrupt() {
    let _ = KICK_TSC.compare_exchange(0, crate::arch::cpu::rdtsc(), Ordering::Relaxed, Ordering::Relaxed);
    wake();
}

/// Wakes the task from the syscall path (records are waiting in the
/// stream's ring): it runs when the current syscall returns to ring 3.
pub fn kick() {
    wake();
    crate::task::wake_preempts(false);
}

/// Upload limits scaled to the heap: uploads in progress may hold at most
/// an eighth of it.
fn limits() -> Limits {
    let (total, _) = crate::arch::mem::stats();
    let d = Limits::default();
    let max_object = (d.max_object as u64).min(total / 16).max(64 << 10) as u32;
    Limits { max_object, max_total: 2 * max_object as u64, ..d }
}

fn serve(mut console: Console, dev: MmioDevice) -> ! {
    let mut server = ushell::Server::new(ShellKernel::default(), limits());
    let mut input: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut failures = 0u64;
    SERVING.store(true, Ordering::Relaxed);
    // The shell sends its last output after the app exits (flush_pending).
    crate::task::survive_shutdown();
    loop {
        console.ack_interrupt();
        input.clear();
        // Stop reading requests while the host is not taking the replies.
        if out.len() < MAX_PENDING_OUT {
            if let Err(e) = console.recv(&mut input) {
                failures += 1;
                if failures == 1 {
                    crate::kinfo!("shell: virtio console at {:#x}: {e}", dev.base);
                }
            }
        }
        let answered = !input.is_empty();
        if answered {
            server.shell().kernel().refresh();
            server.receive(&input, &mut out);
        }
        let before = out.len();
        if out.len() < POLL_BELOW {
            server.poll(&mut out);
        }
        let produced = answered || out.len() > before;
        flush(&mut console, &mut out, &server);
        QUIET.store(!produced && out.is_empty(), Ordering::Relaxed);
        let kicked_at = KICK_TSC.swap(0, Ordering::Relaxed);
        if answered && kicked_at != 0 && STATS.load(Ordering::Relaxed) {
            let tsc = crate::arch::cpu::rdtsc().saturating_sub(kicked_at);
            let line = alloc::format!("shell: round of {} bytes in: {tsc} tsc", input.len());
            server.event(Event::Kernel { level: LogLevel::Debug, line }, &mut out);
            flush(&mut console, &mut out, &server);
        }
        if crate::testhooks::slow_shell() {
            crate::time::sleep_until(crate::time::monotonic_ns() + 200_000_000);
        }
        wait(!out.is_empty());
    }
}

/// Hands pending output to the device, as much as it takes now and flow
/// control allows.
fn flush(console: &mut Console, out: &mut Vec<u8>, server: &ushell::Server<ShellKernel>) {
    let allowed = server.sendable(out.len());
    let mut sent = 0;
    while sent < allowed {
        match console.send(&out[sent..allowed]) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    out.drain(..sent);
}

/// Blocks until the console interrupts, or the next tick when output is
/// waiting for transmit buffers or the interrupt is not routed.
fn wait(output_pending: bool) {
    // Reading the clock the first time calibrates the TSC (millions of
    // instructions of PIT polling): only once there is something to time.
    let tick = 1_000_000_000 / crate::task::HZ as u64;
    let after = if output_pending || !IRQ_ROUTED.load(Ordering::Relaxed) { tick } else { FALLBACK_WAKE_NS };
    let deadline = crate::time::monotonic_ns() + after;
    WAKE.wait_until(Some(deadline), || KICKED.swap(false, Ordering::Acquire).then_some(()));
}

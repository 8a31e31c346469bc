//! The fake guest's function tracer (with `FAKE_GUEST_TRACE=1`): the real
//! `ushell::trace` and `tracer` crates patching this very process. `myfun`
//! carries LLVM's 5-byte patchable entry and is called in a loop by an
//! "app" thread; trampolines come from `tracer::host::Arena` and reach the
//! shell's dispatch by a direct call. The app thread calls `myfun` in
//! batches under a gate that `with_text` holds while it patches, so no
//! thread runs the site meanwhile (the tracer's single-CPU semantics; in
//! the unikernel the app is stopped the same way). `nosite` has no site.

use std::hint::black_box;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracer::host::{entry_addr, Arena, Handler, OwnText};
use tracer::{Dispatch, Phase, PokeError, SiteTable, Text, TextPoke, TraceFrame};
use ushell::trace::Tracing;

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn myfun(a: u64) -> u64 {
    3 * a + 1
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn nosite(a: u64) -> u64 {
    5 * black_box(a) + 2
}

/// Held by the app thread while it calls `myfun`, by `with_text` while it
/// patches.
static GATE: Mutex<()> = Mutex::new(());
static TRACING: OnceLock<Tracing> = OnceLock::new();

struct Entry;

impl Handler for Entry {
    fn handle(frame: &TraceFrame, id: u32, phase: Phase) {
        if let Some(t) = TRACING.get() {
            let mut k = super::FakeKernel { clock: 0, symbols: Vec::new(), trace: None };
            t.dispatch(shellproto::Space::App, id, phase, frame, &mut k);
        }
    }
}

/// What the fake kernel patches with.
pub struct TraceHost {
    text: OwnText,
    arena: Arena,
    sites: Arc<SiteTable>,
}

impl TraceHost {
    /// Sets the tracer up and starts the app thread.
    pub fn start() -> TraceHost {
        let entry = Dispatch::Call(entry_addr::<Entry>());
        let _ = TRACING.set(Tracing::new(entry, entry));
        let mut text = OwnText::open().expect("/proc/self/mem");
        let funcs = [(myfun as *const () as u64, 16, "myfun".to_string()), (nosite as *const () as u64, 16, "nosite".to_string())];
        let sites = Arc::new(SiteTable::from_functions(funcs, &mut |addr, buf| text.read(addr, buf).is_ok()));
        std::thread::spawn(|| {
            let mut sum = 0u64;
            let mut a = 0u64;
            loop {
                {
                    let _g = GATE.lock().unwrap_or_else(|e| e.into_inner());
                    for _ in 0..1000 {
                        let r = myfun(black_box(a));
                        assert_eq!(r, 3 * a + 1, "myfun under the tracer");
                        sum = sum.wrapping_add(r);
                        a = (a + 1) & 0xffff;
                    }
                }
                black_box(sum);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        TraceHost { text, arena: Arena::new().expect("trampoline arena"), sites }
    }

    pub fn tracing(&self) -> Option<&'static Tracing> {
        TRACING.get()
    }

    pub fn site_table(&self, space: shellproto::Space) -> Option<Arc<SiteTable>> {
        (space == shellproto::Space::App).then(|| self.sites.clone())
    }

    pub fn with_text(&mut self, f: &mut dyn FnMut(&mut Text<'_>)) {
        let _g = GATE.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut Text { poke: &mut self.text, mem: &mut self.arena, stopped_ips: &[] });
    }

    pub fn read_text(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        self.text.read(addr, buf)
    }
}

//! The tracer's requests over a fake kernel whose "text" is a byte map:
//! real clang objects (count, notify, fexit_check), the real tracer
//! building real trampolines into fake memory, and `Tracing::dispatch`
//! running the attached programs for real, as the kernel's entries do.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shellproto::upload::Limits;
use shellproto::*;
use tracer::{Dispatch, Phase, PokeError, SiteTable, Text, TextPoke, TraceFrame, TrampolineMemory};
use ushell::trace::Tracing;
use ushell::{Kernel, KernelFacts, Shell, Task};

const MYFUN: u64 = 0x40_1000;
const NOSITE: u64 = 0x40_2000;
const KREAD: u64 = 0xffff_ffff_8010_0000;
const NOPL: [u8; 5] = [0x0f, 0x1f, 0x44, 0, 0];
const NOPL_LLVM: [u8; 5] = [0x0f, 0x1f, 0x44, 0, 8];

#[derive(Default)]
struct Bytes(BTreeMap<u64, u8>);

impl Bytes {
    fn put(&mut self, addr: u64, b: &[u8]) {
        for (i, &x) in b.iter().enumerate() {
            self.0.insert(addr + i as u64, x);
        }
    }
    fn get(&self, addr: u64, n: usize) -> Option<Vec<u8>> {
        (0..n as u64).map(|i| self.0.get(&(addr + i)).copied()).collect()
    }
}

struct Poke<'a>(&'a mut Bytes);

impl TextPoke for Poke<'_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        buf.copy_from_slice(&self.0.get(addr, buf.len()).ok_or(PokeError::NotMapped(addr))?);
        Ok(())
    }
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError> {
        self.0.put(addr, bytes);
        Ok(())
    }
    fn sync_cores(&mut self, _: u64, _: usize) {}
}

struct Mem {
    next: u64,
    live: usize,
}

impl TrampolineMemory for Mem {
    fn alloc(&mut self, near: u64, len: usize) -> Result<u64, PokeError> {
        self.next += 0x1000;
        self.live += 1;
        let _ = len;
        Ok((near & !0xfff) + 0x10_0000 + self.next)
    }
    fn free(&mut self, _: u64, _: usize) {
        self.live -= 1;
    }
}

struct FakeKernel {
    clock: u64,
    /// A site hit from inside the next clock read (a traced function that
    /// a helper's implementation calls), to test recursion.
    reenter: Option<(Space, u32)>,
    tracing: &'static Tracing,
    text: Bytes,
    mem: Mem,
}

fn tables() -> (Arc<SiteTable>, Arc<SiteTable>, Bytes) {
    let mut b = Bytes::default();
    b.put(MYFUN, &[NOPL.as_slice(), &[0x55, 0x48, 0x89, 0xe5]].concat());
    b.put(NOSITE, &[0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x90]);
    b.put(KREAD, &[NOPL_LLVM.as_slice(), &[0x55, 0x48, 0x89, 0xe5]].concat());
    b.put(KREAD + 0x100, &[NOPL_LLVM.as_slice(), &[0x55, 0x48, 0x89, 0xe5]].concat());
    let mut read = |addr: u64, buf: &mut [u8]| match b.get(addr, buf.len()) {
        Some(v) => {
            buf.copy_from_slice(&v);
            true
        }
        None => false,
    };
    let app = SiteTable::from_functions([(MYFUN, 0x20, "myfun".to_string()), (NOSITE, 0x20, "nosite".to_string())], &mut read);
    let kernel = SiteTable::from_functions(
        [(KREAD, 0x40, "kernel::syscall::fs::read".to_string()), (KREAD + 0x100, 0x40, "kernel::syscall::fs::readv".to_string())],
        &mut read,
    );
    (Arc::new(app), Arc::new(kernel), b)
}

impl Kernel for FakeKernel {
    fn version(&self) -> &str {
        "fake-kernel"
    }
    fn now_ns(&mut self) -> u64 {
        if let Some((space, id)) = self.reenter.take() {
            let tracing = self.tracing;
            tracing.dispatch(space, id, Phase::Entry, &TraceFrame::default(), self);
        }
        self.clock += 10;
        self.clock
    }
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn current_task(&self) -> Task {
        Task { pid: 1, tgid: 1, comm: *b"app\0\0\0\0\0\0\0\0\0\0\0\0\0" }
    }
    fn for_each_symbol(&self, _: &mut dyn FnMut(&Symbol) -> bool) {}
    fn symbol_at(&self, _: u64) -> Option<SymbolAt> {
        None
    }
    fn facts(&mut self) -> KernelFacts {
        KernelFacts { mem_total: 1, mem_free: 1, uptime_ns: 1, app: AppInfo { path: "/app".into(), pid: 1, state: AppState::Running }, syscalls: vec![] }
    }
    fn tracing(&self) -> Option<&'static Tracing> {
        Some(self.tracing)
    }
    fn site_table(&mut self, space: Space) -> Option<Arc<SiteTable>> {
        let (app, kernel, _) = tables();
        Some(match space {
            Space::App => app,
            Space::Kernel => kernel,
        })
    }
    fn with_text(&mut self, _: Space, f: &mut dyn FnMut(&mut Text<'_>)) -> Result<(), String> {
        f(&mut Text { poke: &mut Poke(&mut self.text), mem: &mut self.mem, stopped_ips: &[] });
        Ok(())
    }
    fn read_text(&mut self, _: Space, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        Poke(&mut self.text).read(addr, buf)
    }
}

struct T {
    shell: Shell<FakeKernel>,
    next: u32,
}

impl T {
    fn new() -> T {
        let tracing: &'static Tracing = Box::leak(Box::new(Tracing::new(Dispatch::Syscall(0x757ace), Dispatch::Call(0xffff_ffff_8020_0000))));
        let (_, _, text) = tables();
        let k = FakeKernel { clock: 0, reenter: None, tracing, text, mem: Mem { next: 0, live: 0 } };
        let mut t = T { shell: Shell::new(k, Limits::default()), next: 1 };
        t.ok(Request::Hello(Hello { version: VERSION, client: "t".into() }));
        t
    }

    fn call(&mut self, req: Request) -> (Result<Reply, ShellError>, Vec<Event>) {
        self.next += 1;
        let mut events = vec![];
        let mut result = None;
        for m in self.shell.handle(ClientMsg { id: self.next, req }) {
            match m {
                ServerMsg::Reply { result: r, .. } => result = Some(r),
                ServerMsg::Event(e) => events.push(e),
                ServerMsg::BadFrame(e) => panic!("{e}"),
            }
        }
        (result.expect("a reply"), events)
    }

    fn ok(&mut self, req: Request) -> Reply {
        let what = format!("{req:?}");
        self.call(req).0.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    fn load(&mut self, prog: &str) {
        let dir = std::env::temp_dir().join("ushell-trace-tests");
        let obj = bpf_build::compile(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(prog), &dir);
        let bytes = std::fs::read(obj).unwrap();
        let Reply::UploadReady { upload } = self.ok(Request::UploadBegin { name: prog.into(), size: bytes.len() as u32 }) else { panic!() };
        self.ok(Request::UploadChunk { upload, offset: 0, data: bytes });
        self.ok(Request::UploadCommitWith { upload, engine: Engine::Interp });
    }

    fn attach(&mut self, func: Option<&str>, prog: &str, nr_args: Option<u8>) -> Result<SiteChange, ShellError> {
        match self.call(Request::Attach { func: func.map(String::from), prog: Ref::Name(prog.into()), nr_args }).0? {
            Reply::Attached(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    fn exec(&mut self, prog: &str, arg: u64) -> u64 {
        match self.ok(Request::Exec { prog: Ref::Name(prog.into()), arg: arg.to_le_bytes().to_vec() }) {
            Reply::Returned { value, .. } => value,
            other => panic!("{other:?}"),
        }
    }

    fn site_bytes(&mut self, addr: u64) -> Vec<u8> {
        self.shell.kernel().text.get(addr, 5).unwrap()
    }

    /// What the kernel's entry does when the site's trampoline runs.
    fn hit(&mut self, space: Space, id: u32, phase: Phase, args: [u64; 6], ret: u64) {
        let t = self.shell.kernel().tracing;
        let frame = TraceFrame { args, ret, ..TraceFrame::default() };
        assert!(t.dispatch(space, id, phase, &frame, self.shell.kernel()), "trampoline {id} unknown");
    }
}

#[test]
fn attach_defaults_to_the_section_function_and_patches_the_nop_into_a_call() {
    let mut t = T::new();
    t.load("count.c");
    let c = t.attach(None, "count", None).unwrap();
    assert_eq!((c.func.as_str(), c.space, c.addr, c.kind, c.before), ("myfun", Space::App, MYFUN, AttachKind::Fentry, NOPL));
    assert_eq!(c.after[0], 0xe8);
    let tramp = c.trampoline.unwrap();
    let rel = i32::from_le_bytes(c.after[1..5].try_into().unwrap());
    assert_eq!(MYFUN.wrapping_add(5).wrapping_add(rel as i64 as u64), tramp, "the call's target is the trampoline");
    assert_eq!(t.site_bytes(MYFUN), c.after);

    // Three hits of the site: count's map says 3 for myfun.
    for i in 0..3 {
        t.hit(Space::App, 0, Phase::Entry, [i, 0, 0, 0, 0, 0], 0);
    }
    assert_eq!(t.exec("get_count", MYFUN), 3);
    let Reply::Attachments(list) = t.ok(Request::Attachments { func: None }) else { panic!() };
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].prog_name.as_str(), list[0].run_cnt), ("count", 3));
    assert!(list[0].run_time_ns > 0, "timing is on");

    // Unload refused while attached; detach restores the nop.
    let (r, _) = t.call(Request::Unload { prog: Ref::Name("count".into()) });
    assert!(matches!(r, Err(ShellError::StillAttached { ref funcs, .. }) if funcs == &["myfun"]), "{r:?}");
    let Reply::Detached(d) = t.ok(Request::Detach { func: None, prog: Ref::Name("count".into()) }) else { panic!() };
    assert_eq!((d.before, d.after, d.trampoline), (c.after, NOPL, None));
    assert_eq!(t.site_bytes(MYFUN), NOPL);
    assert_eq!(t.shell.kernel().mem.live, 0, "the trampoline was freed (nothing was stopped in it)");
    t.ok(Request::Unload { prog: Ref::Name("count".into()) });
}

#[test]
fn notify_lines_and_fexit_results_reach_the_shell() {
    let mut t = T::new();
    t.load("notify.c");
    t.load("fexit_check.c");
    let n = t.attach(Some("myfun"), "notify", None).unwrap();
    t.hit(Space::App, 0, Phase::Entry, [5, 0, 0, 0, 0, 0], 0);
    let events = t.shell.poll_output();
    assert!(
        events.iter().any(|m| matches!(m, ServerMsg::Event(Event::ProgOutput { name, line, .. }) if name == "notify" && line == "myfun called by pid 1 tgid 1")),
        "{events:?}"
    );
    // fexit with one argument changes the trampoline's shape.
    let f = t.attach(Some("myfun"), "fexit_check", Some(1)).unwrap();
    assert_eq!(f.before, n.after);
    assert_ne!(f.after, n.after, "a new (fexit) trampoline");
    t.hit(Space::App, 1, Phase::Entry, [5, 0, 0, 0, 0, 0], 0);
    t.hit(Space::App, 1, Phase::Exit, [5, 0, 0, 0, 0, 0], 16);
    t.hit(Space::App, 1, Phase::Entry, [2, 0, 0, 0, 0, 0], 0);
    t.hit(Space::App, 1, Phase::Exit, [2, 0, 0, 0, 0, 0], 99);
    assert_eq!(t.exec("get_checks", 0), 2, "two calls seen");
    assert_eq!(t.exec("get_checks", 1), 1, "one wrong result (99 for 2)");
}

#[test]
fn errors_say_what_is_wrong() {
    let mut t = T::new();
    t.load("count.c");
    let e = t.attach(Some("nosite"), "count", None).unwrap_err();
    let ShellError::NoSite { func, addr, first, how } = &e else { panic!("{e:?}") };
    assert_eq!((func.as_str(), *addr, first.as_str()), ("nosite", NOSITE, "55 48 89 e5 48 83 ec 10"));
    assert!(how.contains("-pg -mfentry -mnop-mcount"), "{how}");
    assert!(e.to_string().contains("has no patch site"), "{e}");
    let e = t.attach(Some("myfu"), "count", None).unwrap_err();
    assert!(matches!(&e, ShellError::UnknownFunc { similar, .. } if similar == &["myfun"]), "{e:?}");
    let e = t.attach(Some("myfun"), "get_count", None).unwrap_err();
    assert!(matches!(e, ShellError::NotAttachable { .. }), "{e:?}");
    let (r, _) = t.call(Request::Detach { func: None, prog: Ref::Name("count".into()) });
    assert!(matches!(r, Err(ShellError::NotAttached { .. })), "{r:?}");
    assert_eq!(t.site_bytes(MYFUN), NOPL, "failures change nothing");
}

#[test]
fn kernel_functions_by_full_name_or_unique_suffix_and_the_site_list() {
    let mut t = T::new();
    t.load("count.c");
    let c = t.attach(Some("fs::read"), "count", None).unwrap();
    assert_eq!((c.func.as_str(), c.space, c.before), ("kernel::syscall::fs::read", Space::Kernel, NOPL_LLVM));
    t.hit(Space::Kernel, 0, Phase::Entry, [0; 6], 0);
    assert_eq!(t.exec("get_count", KREAD), 1);
    let Reply::Sites { sites, truncated } = t.ok(Request::Sites { pattern: String::new(), limit: 10 }) else { panic!() };
    assert!(!truncated);
    let names: Vec<(&str, Space, u32)> = sites.iter().map(|s| (s.name.as_str(), s.space, s.attached)).collect();
    assert_eq!(names, [("myfun", Space::App, 0), ("kernel::syscall::fs::read", Space::Kernel, 1), ("kernel::syscall::fs::readv", Space::Kernel, 0)]);
    let Reply::FuncText(ft) = t.ok(Request::FuncText { func: "kernel::syscall::fs::read".into(), len: 9 }) else { panic!() };
    assert_eq!((ft.addr, ft.site), (KREAD, Some(KREAD)));
    assert_eq!(ft.bytes[..5], c.after);
}

/// A full stream is sent whole after `TraceStop`: the answer waits until
/// the last record has gone out (many polls), and nothing new is recorded.
#[test]
fn trace_stop_is_answered_after_the_streams_last_records() {
    let mut t = T::new();
    assert!(matches!(t.ok(Request::TraceStart { syscalls: vec![], ring_bytes: 0 }), Reply::TraceStarted { .. }));
    let sys = &t.shell.kernel().tracing.sys;
    let record = vec![0x5au8; 1000];
    let n = 3000; // 3 MB: more than the ring (1 MiB) holds, many polls' worth
    let (mut pushed, mut wakes) = (0, 0);
    for _ in 0..n {
        if sys.streams(39) {
            wakes += sys.push(&record) as u32;
            pushed += 1;
        }
    }
    assert_eq!(pushed, n, "all wanted while streaming");
    assert_eq!(wakes, 1, "the reader is woken once per {} records it has not drained", ushell::systrace::WAKE_EVERY);
    let id = 77;
    let first = t.shell.handle(ClientMsg { id, req: Request::TraceStop });
    assert!(first.iter().all(|m| matches!(m, ServerMsg::Event(_))), "not answered yet: records remain");
    assert!(!t.shell.kernel().tracing.sys.streams(39), "nothing new is recorded once stopping");
    let (mut bytes, mut lost, mut answer) = (0usize, 0u64, None);
    let mut tally = |msgs: Vec<ServerMsg>, answer: &mut Option<(u64, u64)>| {
        for m in msgs {
            match m {
                ServerMsg::Event(Event::Syscalls { data }) => bytes += data.len(),
                ServerMsg::Event(Event::Lost { count, .. }) => lost += count,
                ServerMsg::Reply { id: got, result: Ok(Reply::TraceStopped { records, lost }) } if got == id => *answer = Some((records, lost)),
                other => panic!("{other:?}"),
            }
        }
    };
    tally(first, &mut answer);
    let mut polls = 0;
    while answer.is_none() {
        polls += 1;
        assert!(polls < 1000, "TraceStop never answered");
        let out = t.shell.poll_output();
        tally(out, &mut answer);
    }
    let (records, dropped) = answer.unwrap();
    assert!(polls > 1, "the ring took several polls");
    assert_eq!(records + dropped, n as u64, "every record was kept or counted as lost");
    assert_eq!(bytes, records as usize * record.len(), "every kept record was sent");
    assert_eq!(lost, dropped, "the losses were reported as they happened");
    // A new stream starts clean.
    assert!(matches!(t.ok(Request::TraceStart { syscalls: vec![], ring_bytes: 0 }), Reply::TraceStarted { .. }));
    assert!(matches!(t.ok(Request::TraceStop), Reply::TraceStopped { records: 0, lost: 0 }));
}

/// A small ring wakes its reader after a quarter of it fills, long before
/// `WAKE_EVERY` records (which an 8 KiB ring could never hold), once per
/// drain; after a drain the count starts again.
#[test]
fn a_small_ring_wakes_the_reader_when_a_quarter_fills() {
    let mut t = T::new();
    let Reply::TraceStarted { ring_bytes } = t.ok(Request::TraceStart { syscalls: vec![], ring_bytes: 8192 }) else { panic!() };
    assert_eq!(ring_bytes, 8192);
    let sys = &t.shell.kernel().tracing.sys;
    let record = [0x5au8; 128];
    let cost = bpf_runtime::maps::ringbuf_record_cost(record.len());
    let wake_at = (8192usize / 4).div_ceil(cost);
    let wakes: Vec<usize> = (1..=40).filter(|_| sys.push(&record)).collect();
    assert_eq!(wakes, [wake_at], "woken once, when a quarter of the ring ({} records of {cost} bytes) is full", wake_at);
    assert!(wake_at < ushell::systrace::WAKE_EVERY as usize);
    let (data, lost) = sys.drain(usize::MAX);
    assert_eq!((data.len(), lost), (40 * record.len(), 0));
    let again: Vec<usize> = (1..=wake_at).filter(|_| sys.push(&record)).collect();
    assert_eq!(again, [wake_at], "after a drain the reader is woken again");
}

/// A site hit while a traced program runs (here: from the clock read that
/// `bpf_ktime_get_ns` makes) is not run but counted, and the count is
/// reported with the shell's next output, once.
#[test]
fn hits_during_a_traced_run_are_skipped_and_reported_as_lost() {
    let mut t = T::new();
    t.load("calltime.c");
    t.attach(None, "enter", None).unwrap();
    let lost = |t: &mut T| -> u64 {
        t.shell.poll_output().iter().map(|m| match m {
            ServerMsg::Event(Event::Lost { what, count }) if what.starts_with("traced calls not run") => *count,
            _ => 0,
        }).sum()
    };
    t.hit(Space::App, 0, Phase::Entry, [0; 6], 0);
    assert_eq!(lost(&mut t), 0, "a plain hit runs");
    t.shell.kernel().reenter = Some((Space::App, 0));
    t.hit(Space::App, 0, Phase::Entry, [0; 6], 0);
    assert!(t.shell.kernel().reenter.is_none(), "the program read the clock, which hit the site again");
    assert_eq!(lost(&mut t), 1, "the nested hit was skipped and reported");
    assert_eq!(lost(&mut t), 0, "reported once");
}

//! The shell end to end over its byte interface ([`ushell::Server`]): real
//! BPF objects compiled by clang from `tests/progs/` and `bpf-progs/`,
//! uploaded in chunks, verified by the real runtime, run and inspected. The
//! kernel is a fake ([`FakeKernel`]: a counting clock, a symbol table, fixed
//! facts), standing in for the unikernel in this library's tests.

use std::path::{Path, PathBuf};

use shellproto::upload::Limits;
use shellproto::*;
use ushell::{Kernel, KernelFacts, Server, Task};

struct FakeKernel {
    clock: u64,
    symbols: Vec<Symbol>,
    /// Programs put into executable memory.
    jit_installs: usize,
    /// Refuse executable memory, as a kernel without any would.
    no_exec_memory: bool,
}

impl FakeKernel {
    fn new() -> Self {
        let sym = |name: &str, addr, origin| Symbol { name: name.into(), addr, size: 0x40, origin };
        let mut symbols = vec![sym("main", 0x401000, SymOrigin::App), sym("myfun", 0x401100, SymOrigin::App)];
        for i in 0..600 {
            symbols.push(sym(&format!("kalloc_{i}"), 0xffff_ffff_8000_0000 + i * 0x40, SymOrigin::Kernel));
        }
        FakeKernel { clock: 1_000, symbols, jit_installs: 0, no_exec_memory: false }
    }
}

impl Kernel for FakeKernel {
    fn version(&self) -> &str {
        "fake-kernel 0.0.1"
    }
    fn now_ns(&mut self) -> u64 {
        // Every reading advances, so a run always takes a known, nonzero time.
        self.clock += 250;
        self.clock
    }
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn current_task(&self) -> Task {
        Task { pid: 7, tgid: 7, comm: *b"ushell\0\0\0\0\0\0\0\0\0\0" }
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
    /// The host's executable memory: mmap, written, then read+execute.
    fn exec_memory(&mut self, code: &[u8]) -> Result<Box<dyn bpf_runtime::jit::ExecMemory>, bpf_runtime::jit::JitError> {
        if self.no_exec_memory {
            return Err(bpf_runtime::jit::JitError::Exec("none here"));
        }
        self.jit_installs += 1;
        Ok(Box::new(bpf_runtime::jit::host::Mmap::with_code(code)?))
    }
    fn facts(&mut self) -> KernelFacts {
        KernelFacts {
            mem_total: 64 << 20,
            mem_free: 50 << 20,
            uptime_ns: self.clock,
            app: AppInfo { path: "/bin/app".into(), pid: 1, state: AppState::Running },
            syscalls: vec![
                SyscallCount { nr: 0, name: "read".into(), count: 3 },
                SyscallCount { nr: 1, name: "write".into(), count: 10 },
                SyscallCount { nr: 39, name: "getpid".into(), count: 3 },
            ],
        }
    }
}

/// A client speaking frames to the server, as `host-cli` will.
struct Client {
    server: Server<FakeKernel>,
    decoder: MessageDecoder<ServerMsg>,
    next_id: u32,
    /// Events that arrived with the last reply.
    events: Vec<Event>,
    chunk: usize,
}

impl Client {
    fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    fn with_limits(limits: Limits) -> Self {
        let mut c = Client { server: Server::new(FakeKernel::new(), limits), decoder: MessageDecoder::new(), next_id: 1, events: vec![], chunk: 1000 };
        match c.call(Request::Hello(Hello { version: VERSION, client: "test".into() })) {
            Ok(Reply::Hello(h)) => assert_eq!((h.version, h.kernel.as_str()), (VERSION, "fake-kernel 0.0.1")),
            other => panic!("hello: {other:?}"),
        }
        c
    }

    /// Sends raw bytes; returns everything the server answered.
    fn raw(&mut self, bytes: &[u8]) -> Vec<ServerMsg> {
        let mut out = Vec::new();
        self.server.receive(bytes, &mut out);
        let msgs: Vec<ServerMsg> = self.decoder.push(&out).into_iter().map(|m| m.expect("the server sends valid frames")).collect();
        assert_eq!(self.decoder.finish(), None, "the server's output ends on a frame boundary");
        msgs
    }

    fn call(&mut self, req: Request) -> Result<Reply, ShellError> {
        let id = self.next_id;
        self.next_id += 1;
        let msgs = self.raw(&encode(&ClientMsg { id, req }).unwrap());
        self.events.clear();
        let mut reply = None;
        for m in msgs {
            match m {
                ServerMsg::Event(e) => self.events.push(e),
                ServerMsg::Reply { id: got, result } => {
                    assert_eq!(got, id, "reply to another request");
                    assert!(reply.is_none(), "two replies to one request");
                    reply = Some(result);
                }
                ServerMsg::BadFrame(e) => panic!("a valid frame was refused: {e}"),
            }
        }
        reply.expect("no reply")
    }

    fn upload(&mut self, name: &str, bytes: &[u8]) -> Result<LoadedObject, ShellError> {
        self.upload_with(name, bytes, None)
    }

    /// Uploads and commits with `UploadCommitWith` when an engine is given.
    fn upload_with(&mut self, name: &str, bytes: &[u8], engine: Option<Engine>) -> Result<LoadedObject, ShellError> {
        let Reply::UploadReady { upload } = self.call(Request::UploadBegin { name: name.into(), size: bytes.len() as u32 })? else {
            panic!("no upload handle")
        };
        for (i, c) in bytes.chunks(self.chunk).enumerate() {
            assert_eq!(self.call(Request::UploadChunk { upload, offset: (i * self.chunk) as u32, data: c.to_vec() })?, Reply::Ack);
        }
        let commit = match engine {
            None => Request::UploadCommit { upload },
            Some(engine) => Request::UploadCommitWith { upload, engine },
        };
        match self.call(commit)? {
            Reply::Loaded(l) => Ok(l),
            other => panic!("commit: {other:?}"),
        }
    }

    fn exec(&mut self, prog: Ref, arg: &[u8]) -> Result<u64, ShellError> {
        match self.call(Request::Exec { prog, arg: arg.to_vec() })? {
            Reply::Returned { value, run_time_ns } => {
                assert!(run_time_ns > 0, "the fake clock advances, so a run takes time");
                Ok(value)
            }
            other => panic!("exec: {other:?}"),
        }
    }

    fn progs(&mut self) -> Vec<ProgInfo> {
        match self.call(Request::Progs).unwrap() {
            Reply::Progs(p) => p,
            other => panic!("progs: {other:?}"),
        }
    }

    fn maps(&mut self) -> Vec<MapInfo> {
        match self.call(Request::Maps).unwrap() {
            Reply::Maps(m) => m,
            other => panic!("maps: {other:?}"),
        }
    }

    fn dump(&mut self, map: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut all = Vec::new();
        let mut cursor = 0;
        loop {
            match self.call(Request::MapDump { map: Ref::Name(map.into()), cursor }).unwrap() {
                Reply::MapEntries { entries, next, .. } => {
                    all.extend(entries.into_iter().map(|e| (e.key, e.value)));
                    match next {
                        Some(n) => cursor = n,
                        None => return all,
                    }
                }
                other => panic!("dump: {other:?}"),
            }
        }
    }
}

fn object(path: &Path) -> Vec<u8> {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ushell-tests");
    std::fs::read(bpf_build::compile(path, &out)).unwrap()
}

fn test_prog(name: &str) -> Vec<u8> {
    object(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs").join(format!("{name}.c")))
}

fn example(name: &str) -> Vec<u8> {
    object(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(format!("{name}.c")))
}

/// `struct args { u32 key; u32 pad; u64 value; }` of shell_a.c.
fn args(key: u32, value: u64) -> Vec<u8> {
    let mut a = key.to_le_bytes().to_vec();
    a.extend([0; 4]);
    a.extend(value.to_le_bytes());
    a
}

#[test]
fn a_session_starts_with_a_hello_of_the_same_version() {
    let mut s = Server::new(FakeKernel::new(), Limits::default());
    let mut d = MessageDecoder::<ServerMsg>::new();
    let mut out = Vec::new();
    s.receive(&encode(&ClientMsg { id: 1, req: Request::Progs }).unwrap(), &mut out);
    s.receive(&encode(&ClientMsg { id: 2, req: Request::Hello(Hello { version: 99, client: "future".into() }) }).unwrap(), &mut out);
    s.receive(&encode(&ClientMsg { id: 3, req: Request::Progs }).unwrap(), &mut out);
    s.receive(&encode(&ClientMsg { id: 4, req: Request::Hello(Hello { version: VERSION, client: "now".into() }) }).unwrap(), &mut out);
    s.receive(&encode(&ClientMsg { id: 5, req: Request::Progs }).unwrap(), &mut out);
    let got: Vec<ServerMsg> = d.push(&out).into_iter().map(Result::unwrap).collect();
    assert_eq!(got[0], ServerMsg::Reply { id: 1, result: Err(ShellError::HelloFirst) });
    assert_eq!(got[1], ServerMsg::Reply { id: 2, result: Err(ShellError::Version { server: VERSION, client: 99 }) });
    assert_eq!(got[2], ServerMsg::Reply { id: 3, result: Err(ShellError::HelloFirst) }, "a refused hello opens nothing");
    let ServerMsg::Reply { id: 4, result: Ok(Reply::Hello(h)) } = &got[3] else { panic!("{:?}", got[3]) };
    assert_eq!((h.max_frame, h.max_chunk, h.max_object), (MAX_FRAME as u32, MAX_CHUNK as u32, DEFAULT_MAX_OBJECT));
    assert_eq!(got[4], ServerMsg::Reply { id: 5, result: Ok(Reply::Progs(vec![])) });
}

#[test]
fn load_exec_print_and_dump() {
    let mut c = Client::new();
    let loaded = c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    let names: Vec<(&str, &str, ProgType)> = loaded.progs.iter().map(|p| (p.name.as_str(), p.section.as_str(), p.prog_type)).collect();
    assert_eq!(names, [("fill", "syscall", ProgType::Syscall), ("emit", "syscall/emit", ProgType::Syscall), ("probe", "kprobe/myfun", ProgType::Kprobe)]);
    let maps: Vec<&str> = loaded.maps.iter().map(|m| m.name.as_str()).collect();
    for want in ["shared", "big", "records", "shell_a.bss", "shell_a.rodata"] {
        assert!(maps.contains(&want), "{want} missing in {maps:?}");
    }

    assert_eq!(c.exec(Ref::Name("fill".into()), &args(7, 42)).unwrap(), 43);
    let fill = loaded.progs[0].id;
    assert_eq!(c.events, [Event::ProgOutput { prog: fill, name: "fill".into(), line: "fill 7=42".into() }]);
    assert_eq!(c.exec(Ref::Id(fill), &args(9, 5)).unwrap(), 6);

    let mut shared = c.dump("shared");
    shared.sort();
    assert_eq!(shared, [(7u32.to_le_bytes().to_vec(), 42u64.to_le_bytes().to_vec()), (9u32.to_le_bytes().to_vec(), 5u64.to_le_bytes().to_vec())]);
    // .bss counts the runs.
    assert_eq!(c.dump("shell_a.bss"), [(0u32.to_le_bytes().to_vec(), 2u64.to_le_bytes().to_vec())]);

    let p = c.progs().into_iter().find(|p| p.id == fill).unwrap();
    assert_eq!((p.run_count, p.object.as_str(), p.maps.len()), (2, "shell_a.o", 5));
    assert!(p.run_time_ns >= 2 * 250, "{p:?}");
}

/// Return values, events, and map entries afterwards.
type Runs = (Vec<u64>, Vec<Event>, Vec<(Vec<u8>, Vec<u8>)>);

/// Runs `fill` and `emit` of shell_a.o loaded for `engine`.
fn shell_a_runs(c: &mut Client, engine: Option<Engine>) -> Runs {
    c.upload_with("shell_a.o", &test_prog("shell_a"), engine).unwrap();
    let mut results = Vec::new();
    let mut events = Vec::new();
    for (prog, arg) in [("fill", args(7, 42)), ("fill", args(9, u64::MAX)), ("emit", b"hello".to_vec()), ("fill", args(0, 1 << 40))] {
        results.push(c.exec(Ref::Name(prog.into()), &arg).unwrap());
        events.append(&mut c.events);
    }
    let mut maps = c.dump("shared");
    maps.extend(c.dump("shell_a.bss"));
    maps.sort();
    (results, events, maps)
}

#[test]
fn the_jit_runs_by_default_the_interpreter_on_request_with_the_same_results() {
    let mut jit = Client::new();
    let by_jit = shell_a_runs(&mut jit, None);
    assert!(jit.progs().iter().all(|p| p.engine == Engine::Jit), "{:?}", jit.progs());
    assert_eq!(jit.server.shell().kernel().jit_installs, 3, "one code installation per program");

    let mut interp = Client::new();
    let by_interp = shell_a_runs(&mut interp, Some(Engine::Interp));
    assert!(interp.progs().iter().all(|p| p.engine == Engine::Interp), "{:?}", interp.progs());
    assert_eq!(interp.server.shell().kernel().jit_installs, 0);
    assert_eq!(by_jit, by_interp);
    assert_eq!(by_jit.0, [43, 0, 0, (1 << 40) + 1], "fill returns value + 1 (wrapping), emit bpf_ringbuf_output's 0");
    assert_eq!(by_jit.1.len(), 4, "three bpf_printk lines and a ring-buffer record: {:?}", by_jit.1);

    // Asked for explicitly, the same as the default.
    let mut explicit = Client::new();
    assert_eq!(shell_a_runs(&mut explicit, Some(Engine::Jit)), by_jit);
}

#[test]
fn without_executable_memory_programs_load_on_the_interpreter_with_a_warning() {
    let mut c = Client::new();
    c.server.shell().kernel().no_exec_memory = true;
    let loaded = c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    assert!(loaded.progs.iter().all(|p| p.engine == Engine::Interp), "{loaded:?}");
    match c.events.as_slice() {
        [Event::Kernel { level: LogLevel::Warn, line }] => assert!(line.contains("none here") && line.contains("interpreter"), "{line}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.exec(Ref::Name("fill".into()), &args(7, 42)).unwrap(), 43);
}

#[test]
fn map_dumps_come_in_pages_that_fit_frames() {
    let mut c = Client::new();
    c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    let value = 0x1122_3344_5566_7788u64.to_le_bytes().to_vec();
    assert_eq!(c.call(Request::MapUpdate { map: Ref::Name("big".into()), key: 8000u32.to_le_bytes().to_vec(), value: value.clone(), flags: 0 }).unwrap(), Reply::Ack);
    let Reply::MapEntries { next, .. } = c.call(Request::MapDump { map: Ref::Name("big".into()), cursor: 0 }).unwrap() else { panic!() };
    assert!(next.is_some(), "8192 entries do not fit one page");
    let all = c.dump("big");
    assert_eq!(all.len(), 8192);
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(k, &(i as u32).to_le_bytes().to_vec());
        let want = if i == 8000 { value.clone() } else { vec![0u8; 8] };
        assert_eq!(v, &want, "entry {i}");
    }
}

#[test]
fn maps_are_shared_by_name_and_definition() {
    let mut c = Client::new();
    let a = c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    let b = c.upload("shell_b.o", &test_prog("shell_b")).unwrap();
    let shared_a = a.maps.iter().find(|m| m.name == "shared").unwrap().id;
    let shared_b = b.maps.iter().find(|m| m.name == "shared").unwrap();
    assert_eq!(shared_b.id, shared_a, "one map, not two");
    assert_eq!(shared_b.objects, [a.id, b.id]);

    c.exec(Ref::Name("fill".into()), &args(3, 300)).unwrap();
    assert_eq!(c.exec(Ref::Name("read_shared".into()), &3u32.to_le_bytes()).unwrap(), 300, "b reads what a wrote");
    assert_eq!(c.exec(Ref::Name("read_shared".into()), &4u32.to_le_bytes()).unwrap(), u64::MAX, "-1: not there");
    // Written from the host, seen by the program.
    let upd = Request::MapUpdate { map: Ref::Name("shared".into()), key: 4u32.to_le_bytes().to_vec(), value: 77u64.to_le_bytes().to_vec(), flags: 0 };
    assert_eq!(c.call(upd).unwrap(), Reply::Ack);
    assert_eq!(c.exec(Ref::Name("read_shared".into()), &4u32.to_le_bytes()).unwrap(), 77);
    let del = Request::MapDelete { map: Ref::Id(shared_a), key: 4u32.to_le_bytes().to_vec() };
    assert_eq!(c.call(del).unwrap(), Reply::Ack);
    assert_eq!(c.exec(Ref::Name("read_shared".into()), &4u32.to_le_bytes()).unwrap(), u64::MAX);

    // The same name with another definition is refused, and nothing of the
    // refused object is left behind.
    let (progs, maps) = (c.progs().len(), c.maps().len());
    match c.upload("shell_conflict.o", &test_prog("shell_conflict")) {
        Err(ShellError::MapConflict { map, existing, declared }) => {
            assert_eq!(map, "shared");
            assert_eq!((existing.value_size, declared.value_size), (8, 4));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((c.progs().len(), c.maps().len()), (progs, maps));
}

#[test]
fn unload_frees_maps_no_one_uses() {
    let mut c = Client::new();
    let a = c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    let b = c.upload("shell_b.o", &test_prog("shell_b")).unwrap();
    let shared = b.maps[0].id;
    let a_ids: Vec<u32> = a.progs.iter().map(|p| p.id).collect();
    // The object stays until its last program goes.
    for &p in &a_ids[..2] {
        assert_eq!(c.call(Request::Unload { prog: Ref::Id(p) }).unwrap(), Reply::Unloaded { progs: vec![p], maps: vec![] });
    }
    let Reply::Unloaded { progs, mut maps } = c.call(Request::Unload { prog: Ref::Id(a_ids[2]) }).unwrap() else { panic!() };
    assert_eq!(progs, [a_ids[2]]);
    maps.sort();
    let mut want: Vec<u32> = a.maps.iter().map(|m| m.id).filter(|&m| m != shared).collect();
    want.sort();
    assert_eq!(maps, want, "all of a's maps but the one b shares");
    let left = c.maps();
    assert_eq!((left.len(), left[0].id, left[0].objects.clone()), (1, shared, vec![b.id]));
    let Reply::Unloaded { maps, .. } = c.call(Request::Unload { prog: Ref::Name("read_shared".into()) }).unwrap() else { panic!() };
    assert_eq!(maps, [shared]);
    assert!(c.maps().is_empty() && c.progs().is_empty());
    assert_eq!(c.call(Request::Unload { prog: Ref::Id(a_ids[0]) }), Err(ShellError::NoSuchProg(Ref::Id(a_ids[0]))));
}

#[test]
fn verifier_rejections_name_the_instruction_and_load_nothing() {
    let mut c = Client::new();
    for name in ["oob", "loop_fail"] {
        match c.upload(&format!("{name}.o"), &example(name)) {
            Err(ShellError::Rejected { program, insn, message, .. }) => {
                assert!(!program.is_empty() && !message.is_empty(), "{name}");
                let shown = ShellError::Rejected { program: program.clone(), section: "s".into(), insn, message }.to_string();
                assert!(shown.contains(&format!("rejected at insn {insn}")), "{shown}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(c.progs().is_empty() && c.maps().is_empty());
    assert!(matches!(c.upload("junk.o", b"not an ELF object"), Err(ShellError::Object { object, .. }) if object == "junk.o"));
}

#[test]
fn exec_refuses_what_it_cannot_run() {
    let mut c = Client::new();
    c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    assert!(matches!(c.exec(Ref::Name("probe".into()), b""), Err(ShellError::NotRunnable { prog_type: ProgType::Kprobe, .. })));
    assert_eq!(c.exec(Ref::Name("fill".into()), &[1; 256]), Err(ShellError::ArgTooLong { len: 256, max: 255 }));
    assert_eq!(c.exec(Ref::Name("nope".into()), b""), Err(ShellError::NoSuchProg(Ref::Name("nope".into()))));
    // The same program name in two objects: the name is ambiguous, ids are not.
    let b1 = c.upload("b1.o", &test_prog("shell_b")).unwrap();
    let b2 = c.upload("b2.o", &test_prog("shell_b")).unwrap();
    match c.exec(Ref::Name("read_shared".into()), &[0; 4]) {
        Err(ShellError::Ambiguous { ids, .. }) => assert_eq!(ids, [b1.progs[0].id, b2.progs[0].id]),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.exec(Ref::Id(b2.progs[0].id), &[0; 4]), Ok(u64::MAX));
    // Writing a read-only map from the host is refused with the map named.
    let ro = Request::MapUpdate { map: Ref::Name("shell_a.rodata".into()), key: vec![0; 4], value: vec![0; 13], flags: 0 };
    assert!(matches!(c.call(ro), Err(ShellError::Map { map, .. }) if map == "shell_a.rodata"));
    // A wrong key size is the map's error, with Linux's errno.
    let bad = Request::MapDelete { map: Ref::Name("shared".into()), key: vec![0; 3] };
    assert!(matches!(c.call(bad), Err(ShellError::Map { errno: -22, .. })));
}

#[test]
fn ring_buffer_records_reach_the_host_tagged() {
    let mut c = Client::new();
    let a = c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    let records = a.maps.iter().find(|m| m.name == "records").unwrap().id;
    assert_eq!(c.exec(Ref::Name("emit".into()), &args(0, 0xabcdef)).unwrap(), 0);
    assert_eq!(c.events, [Event::Ringbuf { map: records, map_name: "records".into(), object: "shell_a.o".into(), data: 0xabcdefu64.to_le_bytes().to_vec() }]);
    // Each exec sends its record; nothing is left to send twice.
    for _ in 0..300 {
        let mut out = Vec::new();
        c.server.receive(&encode(&ClientMsg { id: 0, req: Request::Exec { prog: Ref::Name("emit".into()), arg: args(0, 1) } }).unwrap(), &mut out);
    }
    let mut out = Vec::new();
    c.server.poll(&mut out);
    let polled: Vec<ServerMsg> = c.decoder.push(&out).into_iter().map(Result::unwrap).collect();
    assert!(polled.is_empty(), "each exec already sent its record: {polled:?}");
}

#[test]
fn aborted_and_disconnected_uploads_leave_nothing() {
    let bytes = test_prog("shell_a");
    let mut c = Client::new();
    c.chunk = 512;
    let Reply::UploadReady { upload } = c.call(Request::UploadBegin { name: "a.o".into(), size: bytes.len() as u32 }).unwrap() else { panic!() };
    c.call(Request::UploadChunk { upload, offset: 0, data: bytes[..512].to_vec() }).unwrap();
    // A chunk out of order ends the upload.
    assert_eq!(
        c.call(Request::UploadChunk { upload, offset: 1024, data: bytes[1024..1536].to_vec() }),
        Err(ShellError::Upload(UploadError::OutOfOrder { upload, expected: 512, got: 1024 }))
    );
    assert_eq!(c.call(Request::UploadCommit { upload }), Err(ShellError::Upload(UploadError::NoSuchUpload { upload })));

    // Half an upload, then the client goes away mid-frame.
    let Reply::UploadReady { upload } = c.call(Request::UploadBegin { name: "a.o".into(), size: bytes.len() as u32 }).unwrap() else { panic!() };
    c.call(Request::UploadChunk { upload, offset: 0, data: bytes[..512].to_vec() }).unwrap();
    let frame = encode(&ClientMsg { id: 99, req: Request::UploadChunk { upload, offset: 512, data: bytes[512..1024].to_vec() } }).unwrap();
    assert!(c.raw(&frame[..frame.len() / 2]).is_empty(), "half a frame: nothing to answer yet");
    assert_eq!(c.server.shell().uploads().len(), 1);
    c.server.disconnected();
    assert_eq!(c.server.shell().uploads().len(), 0, "the disconnect aborted the upload");
    // The next peer says hello and finds nothing half-loaded.
    assert!(matches!(c.call(Request::Hello(Hello { version: VERSION, client: "again".into() })), Ok(Reply::Hello(_))));
    assert_eq!(c.call(Request::UploadCommit { upload }), Err(ShellError::Upload(UploadError::NoSuchUpload { upload })));
    assert!(c.progs().is_empty() && c.maps().is_empty());
    // And a whole upload works.
    assert_eq!(c.upload("a.o", &bytes).unwrap().progs.len(), 3);
}

#[test]
fn garbage_never_wedges_the_shell() {
    let mut c = Client::new();
    c.upload("shell_a.o", &test_prog("shell_a")).unwrap();
    // A fixed-seed xorshift: random bytes (zeros included, so frames end),
    // runs without zeros longer than a frame, and cut-off valid frames.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut seen = std::collections::HashMap::new();
    for round in 0..150 {
        let mut junk: Vec<u8> = (0..next() % 3000).map(|_| next() as u8).collect();
        if round % 10 == 0 {
            junk.extend(std::iter::repeat_n(0x55, MAX_FRAME + 100));
        }
        if round % 7 == 0 {
            let f = encode(&ClientMsg { id: 5, req: Request::Exec { prog: Ref::Name("fill".into()), arg: args(1, 1) } }).unwrap();
            junk.extend(&f[..(next() as usize) % (f.len() - 1)]);
        }
        junk.push(0);
        // Whatever the junk decoded to, the shell answered and went on.
        for m in c.raw(&junk) {
            if let ServerMsg::BadFrame(e) = m {
                *seen.entry(core::mem::discriminant(&e)).or_insert(0) += 1;
            }
        }
        if round % 30 == 0 {
            // Junk may decode as a hello of another version, which ends the session.
            c.call(Request::Hello(Hello { version: VERSION, client: "again".into() })).unwrap();
            assert_eq!(c.exec(Ref::Name("fill".into()), &args(round, u64::from(round) * 10)).unwrap(), u64::from(round) * 10 + 1);
        }
    }
    // Each kind of bad frame was met and answered.
    for e in [FrameError::Oversized { max: 0 }, FrameError::Truncated, FrameError::Malformed { why: shellproto::error::Malformed::BadValue }] {
        assert!(seen.get(&core::mem::discriminant(&e)).is_some_and(|&n| n > 0), "no {e:?} among {seen:?}");
    }
    c.call(Request::Hello(Hello { version: VERSION, client: "again".into() })).unwrap();
    assert!(c.progs().iter().any(|p| p.name == "fill"));
    assert_eq!(c.exec(Ref::Name("fill".into()), &args(2, 20)).unwrap(), 21);
}

#[test]
fn symbols_by_pattern_and_by_address() {
    let mut c = Client::new();
    let Reply::Symbols { symbols, truncated } = c.call(Request::SymSearch { pattern: "myfun".into(), limit: 10 }).unwrap() else { panic!() };
    assert_eq!((symbols.len(), symbols[0].addr, truncated), (1, 0x401100, false));
    let Reply::Symbols { symbols, truncated } = c.call(Request::SymSearch { pattern: "kalloc_1?".into(), limit: 100 }).unwrap() else { panic!() };
    assert_eq!((symbols.len(), truncated), (10, false));
    let Reply::Symbols { symbols, truncated } = c.call(Request::SymSearch { pattern: "kalloc".into(), limit: 5000 }).unwrap() else { panic!() };
    assert_eq!((symbols.len() as u32, truncated), (ushell::MAX_SYMBOLS, true));
    let Reply::SymbolAt(Some(at)) = c.call(Request::SymAt { addr: 0x401105 }).unwrap() else { panic!() };
    assert_eq!(at.to_string(), "myfun+0x5");
    assert_eq!(c.call(Request::SymAt { addr: 0x10 }).unwrap(), Reply::SymbolAt(None));
}

#[test]
fn info_reports_the_kernel_and_the_shell() {
    let mut c = Client::new();
    c.upload("shell_b.o", &test_prog("shell_b")).unwrap();
    let Reply::Info(i) = c.call(Request::Info).unwrap() else { panic!() };
    assert_eq!((i.kernel.as_str(), i.mem_total, i.progs, i.maps), ("fake-kernel 0.0.1", 64 << 20, 1, 1));
    let order: Vec<&str> = i.syscalls.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["write", "read", "getpid"], "most frequent first, then by number");
    assert_eq!(i.app.state, AppState::Running);
}

#[test]
fn flow_control_holds_output_beyond_the_window_until_the_client_confirms() {
    let mut s = Server::new(FakeKernel::new(), Limits::default());
    let mut out = Vec::new();
    let send = |s: &mut Server<FakeKernel>, out: &mut Vec<u8>, id, req| s.receive(&encode(&ClientMsg { id, req }).unwrap(), out);
    send(&mut s, &mut out, 1, Request::FlowStart);
    assert_eq!(MessageDecoder::<ServerMsg>::new().push(&out), [Ok(ServerMsg::Reply { id: 1, result: Err(ShellError::HelloFirst) })], "not before hello");
    out.clear();
    send(&mut s, &mut out, 0, Request::Progs);
    assert_eq!(s.sendable(out.len()), out.len(), "off: everything may go");
    out.clear();
    send(&mut s, &mut out, 2, Request::Hello(Hello { version: VERSION, client: "t".into() }));
    send(&mut s, &mut out, 3, Request::FlowStart);
    let got: Vec<ServerMsg> = MessageDecoder::new().push(&out).into_iter().map(Result::unwrap).collect();
    let window = match &got[..] {
        [ServerMsg::Reply { id: 2, result: Ok(Reply::Hello(_)) }, ServerMsg::Reply { id: 3, result: Ok(Reply::FlowStarted { window }) }] => *window as usize,
        other => panic!("{other:?}"),
    };
    // The hello and flow replies are still unsent: they count too.
    let replies = out.len();
    assert_eq!(s.sendable(out.len()), replies);
    out.clear();
    // Output well beyond a window (info replies), none of it sent yet.
    let mut id = 10;
    while out.len() < 3 * window {
        send(&mut s, &mut out, id, Request::Info);
        id += 1;
    }
    assert_eq!(s.sendable(out.len()), window, "one window from the end of the flow reply");
    // The device took the window; the rest waits for a confirmation.
    out.drain(..window);
    assert_eq!(s.sendable(out.len()), 0);
    send(&mut s, &mut out, 0, Request::FlowRead { read: 1000 });
    assert_eq!(s.sendable(out.len()), 1000, "FlowRead is never answered and opens what it confirms");
    send(&mut s, &mut out, 0, Request::FlowRead { read: window as u64 });
    assert_eq!(s.sendable(out.len()), window);
    // A new hello ends flow control (a new session).
    send(&mut s, &mut out, 99, Request::Hello(Hello { version: VERSION, client: "t2".into() }));
    assert_eq!(s.sendable(out.len()), out.len());
}

//! The commands: one decoded request in, its events and its reply out.
//!
//! A session starts with a hello of the same protocol version; until then
//! every request is answered with [`ShellError::HelloFirst`]. A new hello
//! starts a new session: the peer restarted (the supervisor reconnected),
//! so its unfinished uploads are aborted.

use alloc::string::String;
use alloc::vec::Vec;

use shellproto::upload::{Limits, Uploads};
use shellproto::{
    ClientMsg, Engine, Event, HelloReply, Info, MapEntry, Reply, Request, ServerMsg, ShellError, Symbol, EXEC_CTX_SIZE, MAX_FRAME, VERSION,
};

use crate::bpf::Runner;
use crate::kernel::Kernel;
use crate::registry::Registry;
use crate::symbols;
use crate::trace;

/// Budget of key and value bytes in one map-dump page, well inside a frame.
const DUMP_PAGE_BYTES: usize = MAX_FRAME / 2;
/// Most symbols one search returns, whatever the request's limit.
pub const MAX_SYMBOLS: u32 = 512;
/// Bytes of syscall records in one `Event::Syscalls` (a frame holds 64 KiB).
const SYSCALL_EVENT_BYTES: usize = MAX_FRAME / 2;
/// Most `Event::Syscalls` one poll sends (the rest waits for the next).
const SYSCALL_EVENTS_PER_POLL: usize = 8;
/// Most ring-buffer records one [`Shell::poll_output`] sends.
const RECORDS_PER_POLL: usize = 64;

/// The shell: what is loaded, uploads in progress, and the kernel.
pub struct Shell<K: Kernel> {
    kernel: K,
    registry: Registry,
    uploads: Uploads,
    runner: Runner,
    greeted: bool,
    /// Ring-buffer drops already reported, per map id.
    drops_reported: Vec<(u32, u64)>,
    /// `TraceStop` requests waiting for the stream's last records to be
    /// sent (a full ring takes many polls): answered once it is empty.
    stopping: Vec<u32>,
}

impl<K: Kernel> Shell<K> {
    pub fn new(kernel: K, limits: Limits) -> Self {
        Shell { kernel, registry: Registry::new(), uploads: Uploads::new(limits), runner: Runner::default(), greeted: false, drops_reported: Vec::new(), stopping: Vec::new() }
    }

    pub fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// The session has said hello.
    pub fn greeted(&self) -> bool {
        self.greeted
    }

    /// The peer went away: nothing it was sending stays half-received.
    pub fn end_session(&mut self) {
        self.uploads.abort_all();
        // The new session did not ask; the closed stream's last records
        // still go out with the polls.
        self.stopping.clear();
        self.greeted = false;
    }

    /// Answers one request: events it caused (program output), then the
    /// reply with the request's id.
    /// `TraceStop` is answered later (after the stream's last records),
    /// by [`Shell::poll_output`], when records remain.
    pub fn handle(&mut self, msg: ClientMsg) -> Vec<ServerMsg> {
        let mut out = Vec::new();
        if matches!(msg.req, Request::TraceStop) && self.greeted {
            if let Some(t) = self.kernel.tracing() {
                self.trace_stop(t, msg.id, &mut out);
                return out;
            }
        }
        let result = self.answer(msg.req, &mut out);
        out.push(ServerMsg::Reply { id: msg.id, result });
        out
    }

    fn hello(&mut self, h: &shellproto::Hello) -> Result<Reply, ShellError> {
        self.end_session();
        if h.version != VERSION {
            return Err(ShellError::Version { server: VERSION, client: h.version });
        }
        self.greeted = true;
        let l = self.uploads.limits();
        Ok(Reply::Hello(HelloReply {
            version: VERSION,
            kernel: self.kernel.version().into(),
            max_frame: MAX_FRAME as u32,
            max_chunk: l.max_chunk,
            max_object: l.max_object,
        }))
    }

    fn answer(&mut self, req: Request, events: &mut Vec<ServerMsg>) -> Result<Reply, ShellError> {
        match req {
            Request::Hello(h) => self.hello(&h),
            _ if !self.greeted => Err(ShellError::HelloFirst),
            Request::UploadBegin { name, size } => Ok(Reply::UploadReady { upload: self.uploads.begin(name, size)? }),
            Request::UploadChunk { upload, offset, data } => {
                self.uploads.chunk(upload, offset, &data)?;
                Ok(Reply::Ack)
            }
            Request::UploadCommit { upload } => self.commit(upload, Engine::default(), events),
            Request::UploadCommitWith { upload, engine } => self.commit(upload, engine, events),
            Request::UploadAbort { upload } => {
                self.uploads.abort(upload)?;
                Ok(Reply::Ack)
            }
            Request::Exec { prog, arg } => self.exec(&prog, &arg, events),
            Request::Unload { prog } => {
                let id = self.registry.resolve_prog(&prog)?;
                if let Some(t) = self.kernel.tracing() {
                    let funcs = t.attached_funcs(id);
                    if !funcs.is_empty() {
                        let program = self.registry.prog_meta(id).map_or_else(String::new, |m| m.name.clone());
                        return Err(ShellError::StillAttached { program, funcs });
                    }
                }
                let (progs, maps) = self.registry.unload(id)?;
                self.drops_reported.retain(|(m, _)| !maps.contains(m));
                Ok(Reply::Unloaded { progs, maps })
            }
            Request::Progs => Ok(Reply::Progs(self.registry.progs())),
            Request::Maps => Ok(Reply::Maps(self.registry.maps())),
            Request::MapDump { map, cursor } => self.dump(&map, cursor),
            Request::MapUpdate { map, key, value, flags } => {
                let id = self.registry.resolve_map(&map)?;
                let (name, store) = self.registry.map_mut(id)?;
                store.update(name, &key, &value, flags)?;
                Ok(Reply::Ack)
            }
            Request::MapDelete { map, key } => {
                let id = self.registry.resolve_map(&map)?;
                let (name, store) = self.registry.map_mut(id)?;
                store.delete(name, &key)?;
                Ok(Reply::Ack)
            }
            Request::SymSearch { pattern, limit } => Ok(self.sym_search(&pattern, limit)),
            Request::SymAt { addr } => Ok(Reply::SymbolAt(self.kernel.symbol_at(addr))),
            Request::Info => {
                let f = self.kernel.facts();
                let mut syscalls = f.syscalls;
                syscalls.sort_by(|a, b| b.count.cmp(&a.count).then(a.nr.cmp(&b.nr)));
                Ok(Reply::Info(Info {
                    kernel: self.kernel.version().into(),
                    mem_total: f.mem_total,
                    mem_free: f.mem_free,
                    uptime_ns: f.uptime_ns,
                    app: f.app,
                    syscalls,
                    progs: self.registry.prog_count() as u32,
                    maps: self.registry.map_count() as u32,
                }))
            }
            Request::Attach { func, prog, nr_args } => Ok(Reply::Attached(trace::attach(&self.registry, &mut self.kernel, func.as_deref(), &prog, nr_args)?)),
            Request::Detach { func, prog } => Ok(Reply::Detached(trace::detach(&self.registry, &mut self.kernel, func.as_deref(), &prog)?)),
            Request::Attachments { func } => Ok(Reply::Attachments(trace::attachments(&mut self.kernel, func.as_deref())?)),
            Request::Sites { pattern, limit } => {
                let (sites, truncated) = trace::sites(&mut self.kernel, &pattern, limit);
                Ok(Reply::Sites { sites, truncated })
            }
            Request::FuncText { func, len } => Ok(Reply::FuncText(trace::func_text(&mut self.kernel, &func, len)?)),
            Request::TraceStart { syscalls, ring_bytes } => {
                let t = self.kernel.tracing().ok_or_else(|| ShellError::Unsupported { what: "syscall tracing".into() })?;
                // A stop still sending: its records first, then its answer.
                while !self.stopping.is_empty() {
                    self.finish_stop(t, events);
                }
                let ring_bytes = t.sys.start(&syscalls, ring_bytes)?;
                self.kernel.syscall_hook(true);
                Ok(Reply::TraceStarted { ring_bytes })
            }
            // Answered by the console server, which owns the byte stream.
            Request::FlowStart | Request::FlowRead { .. } => Err(ShellError::Unsupported { what: "flow control without a console server".into() }),
            // With tracing, answered by `handle`; without, refused here.
            Request::TraceStop => Err(ShellError::Unsupported { what: "syscall tracing".into() }),
        }
    }

    /// Loads a completed upload; a JIT failure is reported as a kernel
    /// warning before the reply, whose programs say they run interpreted.
    fn commit(&mut self, upload: u32, engine: Engine, events: &mut Vec<ServerMsg>) -> Result<Reply, ShellError> {
        let obj = self.uploads.commit(upload)?;
        let (loaded, jit_failed) = self.registry.load(&obj.name, &obj.bytes, engine, &mut self.kernel)?;
        if let Some(why) = jit_failed {
            let line = alloc::format!("{}: {why}; the interpreter runs the programs not compiled", obj.name);
            events.push(ServerMsg::Event(Event::Kernel { level: shellproto::LogLevel::Warn, line }));
        }
        Ok(Reply::Loaded(loaded))
    }

    fn exec(&mut self, prog: &shellproto::Ref, arg: &[u8], events: &mut Vec<ServerMsg>) -> Result<Reply, ShellError> {
        let id = self.registry.resolve_prog(prog)?;
        let meta = self.registry.prog_meta(id).ok_or_else(|| ShellError::NoSuchProg(prog.clone()))?;
        if meta.prog_type != shellproto::ProgType::Syscall {
            return Err(ShellError::NotRunnable { program: meta.name.clone(), prog_type: meta.prog_type });
        }
        let name: String = meta.name.clone();
        if arg.len() >= EXEC_CTX_SIZE {
            return Err(ShellError::ArgTooLong { len: arg.len() as u32, max: EXEC_CTX_SIZE as u32 - 1 });
        }
        // The context: the argument, NUL-terminated and zero-padded.
        let mut ctx = [0u8; EXEC_CTX_SIZE];
        ctx[..arg.len()].copy_from_slice(arg);
        let (r, out) = self.registry.run(id, &ctx, &mut self.runner, &mut self.kernel);
        for line in out.lines {
            events.push(ServerMsg::Event(Event::ProgOutput { prog: id, name: name.clone(), line }));
        }
        if out.lines_lost > 0 {
            events.push(ServerMsg::Event(Event::Lost { what: alloc::format!("bpf_printk lines of `{name}`"), count: out.lines_lost }));
        }
        events.extend(self.poll_output());
        Ok(Reply::Returned { value: r?, run_time_ns: out.run_time_ns })
    }

    fn dump(&mut self, map: &shellproto::Ref, cursor: u32) -> Result<Reply, ShellError> {
        let id = self.registry.resolve_map(map)?;
        let info = self.registry.map_info(id).ok_or_else(|| ShellError::NoSuchMap(map.clone()))?;
        let all = self.registry.map(id)?.entries();
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut next = None;
        for (i, (key, value)) in all.into_iter().enumerate().skip(cursor as usize) {
            let cost = key.len() + value.len() + 8;
            if !entries.is_empty() && bytes + cost > DUMP_PAGE_BYTES {
                next = Some(i as u32);
                break;
            }
            bytes += cost;
            entries.push(MapEntry { key, value });
        }
        Ok(Reply::MapEntries { map: info, entries, next })
    }

    fn sym_search(&self, pattern: &str, limit: u32) -> Reply {
        let limit = limit.clamp(1, MAX_SYMBOLS) as usize;
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut truncated = false;
        self.kernel.for_each_symbol(&mut |s: &Symbol| {
            if symbols::matches(pattern, &s.name) {
                if symbols.len() == limit {
                    truncated = true;
                    return false;
                }
                symbols.push(s.clone());
            }
            true
        });
        Reply::Symbols { symbols, truncated }
    }

    /// The stream's records as events of at most [`SYSCALL_EVENT_BYTES`],
    /// and what the ring buffer dropped since the last report.
    /// Whether the ring is empty now.
    fn drain_syscalls(&mut self, t: &trace::Tracing, out: &mut Vec<ServerMsg>) -> bool {
        for _ in 0..SYSCALL_EVENTS_PER_POLL {
            let (data, lost) = t.sys.drain(SYSCALL_EVENT_BYTES);
            if lost > 0 {
                out.push(ServerMsg::Event(Event::Lost { what: "syscall records (trace ring buffer full)".into(), count: lost }));
            }
            if data.is_empty() {
                return true;
            }
            out.push(ServerMsg::Event(Event::Syscalls { data }));
        }
        false
    }

    /// `TraceStop`: no new records (calls in flight go out now, without a
    /// return value); the answer follows the last record, now or from a
    /// later poll, so that a full ring is sent whole, at the pace the host
    /// reads, instead of being dropped.
    fn trace_stop(&mut self, t: &trace::Tracing, id: u32, out: &mut Vec<ServerMsg>) {
        self.kernel.syscall_stream_flush();
        t.sys.close();
        self.kernel.syscall_hook(t.sys.wanted());
        self.stopping.push(id);
        self.finish_stop(t, out);
    }

    /// Sends a poll's worth of the closing stream's records; answers the
    /// waiting stops once none is left.
    fn finish_stop(&mut self, t: &trace::Tracing, out: &mut Vec<ServerMsg>) {
        if !self.drain_syscalls(t, out) {
            return;
        }
        let (records, lost) = t.sys.stop();
        for id in self.stopping.drain(..) {
            out.push(ServerMsg::Reply { id, result: Ok(Reply::TraceStopped { records, lost }) });
        }
    }

    /// Output waiting in ring buffers, as events (call it from the console
    /// task's timer); ring-buffer drops are reported as counts.
    pub fn poll_output(&mut self) -> Vec<ServerMsg> {
        let mut out: Vec<ServerMsg> = Vec::new();
        if let Some(t) = self.kernel.tracing() {
            let o = t.take_output();
            for (prog, name, line) in o.lines {
                out.push(ServerMsg::Event(Event::ProgOutput { prog, name, line }));
            }
            if o.lost > 0 {
                out.push(ServerMsg::Event(Event::Lost { what: "bpf_printk lines of traced programs (queue full)".into(), count: o.lost }));
            }
            if o.missed > 0 {
                // Linux counts these as the program's recursion_misses.
                let what = "traced calls not run: they came while the tracer was busy (a traced program running, or an attach or detach)";
                out.push(ServerMsg::Event(Event::Lost { what: what.into(), count: o.missed }));
            }
            if o.errors > 0 {
                let line = alloc::format!("{} traced runs failed; the last: {}", o.errors, o.last_error.unwrap_or_default());
                out.push(ServerMsg::Event(Event::Kernel { level: shellproto::LogLevel::Warn, line }));
            }
            trace::reclaim(&mut self.kernel);
            if self.stopping.is_empty() {
                self.drain_syscalls(t, &mut out);
            } else {
                self.finish_stop(t, &mut out);
            }
        }
        let (records, dropped) = self.registry.drain_ringbufs(RECORDS_PER_POLL);
        out.extend(records
            .into_iter()
            .map(|r| ServerMsg::Event(Event::Ringbuf { map: r.map, map_name: r.map_name, object: r.object, data: r.data })));
        for (map, name, total) in dropped {
            let i = match self.drops_reported.iter().position(|(m, _)| *m == map) {
                Some(i) => i,
                None => {
                    self.drops_reported.push((map, 0));
                    self.drops_reported.len() - 1
                }
            };
            let seen = &mut self.drops_reported[i].1;
            if total > *seen {
                out.push(ServerMsg::Event(Event::Lost { what: alloc::format!("records of ring buffer `{name}` (full)"), count: total - *seen }));
                *seen = total;
            }
        }
        out
    }
}

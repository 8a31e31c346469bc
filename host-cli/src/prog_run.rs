//! `ushell prog run PROG.o [--prog NAME] [--arg STR | --ctx-in FILE]
//! [--repeat N] [--engine jit|interp] [--dump-maps] [-j]`: runs one program
//! of a BPF object on the host, like `bpftool prog run` (Linux's
//! BPF_PROG_TEST_RUN), to unit-test it without booting anything. The object
//! is loaded as the kernel loads it (`runtime::load`: every program
//! verified), then the program runs N times on the same maps; prints its
//! return value and the average duration, and with `--dump-maps` the maps.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use bpf_runtime::helpers::{AddrSpace, Env};
use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{self, Engine, JitOptions};
use bpf_runtime::maps::Map;
use bpf_runtime::runtime::{self, Loaded};
use bpf_runtime::spec::MapType;

#[derive(clap::Subcommand, Debug)]
pub enum ProgCommand {
    /// Run a program of a BPF object on the host and print its result.
    Run(ProgRunArgs),
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The context is the program type's context (256 bytes for `syscall`
programs), zero-filled, with --arg's bytes and a NUL or --ctx-in's bytes at
its start. The maps start empty (global data with its initial values) and
keep their contents from run to run.

Exit status: 0 after the runs, 1 if the program faulted, 125 if the object
cannot be read, loaded or verified.

Examples:
  ushell prog run compute.o --prog crc32
  ushell prog run count.o --prog get_count --ctx-in addr.bin --repeat 1000
  ushell prog run ringbuf.o --arg /etc/passwd --engine interp --dump-maps")]
pub struct ProgRunArgs {
    /// BPF object file produced by `clang -O2 -g -target bpf`.
    pub object: PathBuf,
    /// The program (function or section name); needed when the object has
    /// more than one.
    #[arg(long = "prog", value_name = "NAME")]
    pub prog: Option<String>,
    /// A string for the start of the context (NUL-terminated).
    #[arg(long, value_name = "STR", conflicts_with = "ctx_in")]
    pub arg: Option<String>,
    /// A file whose bytes start the context.
    #[arg(long = "ctx-in", value_name = "FILE")]
    pub ctx_in: Option<PathBuf>,
    /// Number of runs; the duration printed is their average.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: u64,
    /// The JIT (machine code, constant blinding on) or the interpreter.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    pub engine: EngineArg,
    /// Print every map's contents after the runs.
    #[arg(long = "dump-maps")]
    pub dump_maps: bool,
    /// JSON output.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    Jit,
    Interp,
}

pub fn main(cmd: ProgCommand) -> anyhow::Result<ExitCode> {
    let ProgCommand::Run(args) = cmd;
    match run(&args)? {
        Ok(report) => {
            print!("{}", report.render(args.json));
            Ok(ExitCode::SUCCESS)
        }
        Err(fault) => {
            eprintln!("ushell: {fault}");
            Ok(ExitCode::from(1))
        }
    }
}

/// What one `prog run` found.
pub struct Report {
    pub program: String,
    pub engine: EngineArg,
    pub retval: u64,
    pub runs: u64,
    pub avg_ns: f64,
    /// With `--dump-maps`: name, kind, entries (or ring buffer records).
    pub maps: Option<Vec<MapDump>>,
    pub trace: Vec<String>,
}

pub struct MapDump {
    pub name: String,
    pub kind: &'static str,
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub records: Vec<Vec<u8>>,
}

/// Loads, runs and reports; `Ok(Err(..))` is a fault of the program.
pub fn run(args: &ProgRunArgs) -> anyhow::Result<Result<Report, String>> {
    let bytes = std::fs::read(&args.object).with_context(|| format!("cannot read {}", args.object.display()))?;
    let mut obj = runtime::load(&bytes).with_context(|| format!("cannot load {}", args.object.display()))?;
    let idx = pick(&obj, args.prog.as_deref())?;
    let prog_type = obj.programs[idx].prog_type;
    let mut ctx = vec![0u8; prog_type.ctx_size()];
    let start: Vec<u8> = match (&args.arg, &args.ctx_in) {
        (Some(s), _) => s.bytes().chain([0]).collect(),
        (_, Some(f)) => std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?,
        _ => Vec::new(),
    };
    if start.len() > ctx.len() {
        bail!("the context of `{}` is {} bytes; the input has {}", obj.programs[idx].name, ctx.len(), start.len());
    }
    ctx[..start.len()].copy_from_slice(&start);
    let engine = match args.engine {
        EngineArg::Jit => {
            let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
            obj.compile_jit(&JitOptions { seed, ..JitOptions::default() }, &mut jit::host::install)?;
            Engine::Jit
        }
        EngineArg::Interp => Engine::Interp,
    };
    let mut vm = Vm::new();
    let mut env = HostEnv::new();
    let mut retval = 0;
    let t = Instant::now();
    for _ in 0..args.repeat {
        match obj.run_on(engine, &mut vm, idx, &ctx, &mut env) {
            Ok(r) => retval = r,
            Err(e) => return Ok(Err(format!("program `{}` faulted: {e}", obj.programs[idx].name))),
        }
    }
    let avg_ns = t.elapsed().as_nanos() as f64 / args.repeat as f64;
    let maps = args.dump_maps.then(|| obj.maps.iter().map(dump).collect());
    Ok(Ok(Report { program: obj.programs[idx].name.clone(), engine: args.engine, retval, runs: args.repeat, avg_ns, maps, trace: env.trace }))
}

fn pick(obj: &Loaded, name: Option<&str>) -> anyhow::Result<usize> {
    let names = || obj.programs.iter().map(|p| format!("{} ({})", p.name, p.section)).collect::<Vec<_>>().join(", ");
    match name {
        Some(n) => obj.find(n).with_context(|| format!("no program `{n}` in the object; it has: {}", names())),
        None if obj.programs.len() == 1 => Ok(0),
        None => bail!("the object has {} programs; choose one with --prog NAME: {}", obj.programs.len(), names()),
    }
}

fn dump(m: &Map) -> MapDump {
    let spec = m.spec();
    let kind = match spec.kind {
        MapType::Hash => "hash",
        MapType::Array => "array",
        MapType::PercpuArray => "percpu_array",
        MapType::Ringbuf => "ringbuf",
    };
    let mut records = Vec::new();
    if spec.kind == MapType::Ringbuf {
        while let Ok(Some(r)) = m.ringbuf_pop() {
            records.push(r);
        }
    }
    let entries = if spec.kind == MapType::Ringbuf { Vec::new() } else { m.entries() };
    MapDump { name: spec.name.clone(), kind, entries, records }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl Report {
    pub fn render(&self, json: bool) -> String {
        let mut o = String::new();
        let engine = if self.engine == EngineArg::Jit { "jit" } else { "interp" };
        if json {
            let _ = write!(o, "{{\"program\":{},\"engine\":\"{engine}\",\"retval\":{},\"runs\":{},\"duration\":{:.1}", json_str(&self.program), self.retval, self.runs, self.avg_ns);
            let _ = write!(o, ",\"trace\":[{}]", self.trace.iter().map(|l| json_str(l)).collect::<Vec<_>>().join(","));
            if let Some(maps) = &self.maps {
                let maps: Vec<String> = maps
                    .iter()
                    .map(|m| {
                        let entries: Vec<String> = m.entries.iter().map(|(k, v)| format!("{{\"key\":\"{}\",\"value\":\"{}\"}}", hex(k), hex(v))).collect();
                        let records: Vec<String> = m.records.iter().map(|r| format!("\"{}\"", hex(r))).collect();
                        format!("{{\"name\":{},\"type\":\"{}\",\"entries\":[{}],\"records\":[{}]}}", json_str(&m.name), m.kind, entries.join(","), records.join(","))
                    })
                    .collect();
                let _ = write!(o, ",\"maps\":[{}]", maps.join(","));
            }
            o.push_str("}\n");
            return o;
        }
        for l in &self.trace {
            let _ = writeln!(o, "trace: {l}");
        }
        let signed = self.retval as i64;
        if signed < 0 {
            let _ = writeln!(o, "return value: {} ({signed})", self.retval);
        } else {
            let _ = writeln!(o, "return value: {}", self.retval);
        }
        let _ = writeln!(o, "duration (average): {:.0} ns ({} run{}, {engine})", self.avg_ns, self.runs, if self.runs == 1 { "" } else { "s" });
        for m in self.maps.iter().flatten() {
            let n = if m.kind == "ringbuf" { m.records.len() } else { m.entries.len() };
            let what = if m.kind == "ringbuf" { "record" } else { "entry" };
            let _ = writeln!(o, "map `{}` ({}, {n} {what}{}):", m.name, m.kind, if n == 1 { "" } else if what == "entry" { "ies" } else { "s" });
            for (k, v) in &m.entries {
                let _ = writeln!(o, "  key: {}  value: {}", hex(k), hex(v));
            }
            for r in &m.records {
                let _ = writeln!(o, "  record: {}", hex(r));
            }
        }
        o
    }
}

/// Helpers' view of the host: time since start, this process's pid, trace
/// lines collected (printed once, before the result).
struct HostEnv {
    start: Instant,
    rng: u64,
    trace: Vec<String>,
}

impl HostEnv {
    fn new() -> HostEnv {
        HostEnv { start: Instant::now(), rng: 0x2545_f491_4f6c_dd1d, trace: Vec::new() }
    }
}

/// Trace lines kept from all runs together (a program that prints in a
/// loop of `--repeat 1000000` would otherwise fill memory).
const MAX_TRACE: usize = 1000;

impl Env for HostEnv {
    fn ktime_ns(&mut self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn trace(&mut self, line: &str) {
        if self.trace.len() < MAX_TRACE {
            self.trace.push(line.trim_end_matches('\n').to_string());
        }
    }
    fn prandom_u32(&mut self) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 16) as u32
    }
    fn pid_tgid(&mut self) -> u64 {
        let pid = std::process::id() as u64;
        (pid << 32) | pid
    }
    fn comm(&mut self) -> [u8; 16] {
        *b"ushell\0\0\0\0\0\0\0\0\0\0"
    }
    fn probe_read(&mut self, _space: AddrSpace, _addr: u64, _dst: &mut [u8]) -> Result<(), i64> {
        // No kernel or app memory on the host.
        Err(-14)
    }
}

#[cfg(test)]
mod tests {
    //! The same C, compiled by clang for BPF and by gcc natively, must give
    //! the same results through `ushell prog run` on both engines.
    use super::*;
    use clap::Parser;
    use std::path::Path;
    use std::process::Command;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ProgCommand,
    }

    fn args(v: &[&str]) -> ProgRunArgs {
        let Cli { cmd: ProgCommand::Run(a) } = Cli::try_parse_from(std::iter::once("ushell-prog").chain(v.iter().copied())).unwrap();
        a
    }

    fn compute_c() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs/compute.c")
    }

    /// "NAME VALUE" lines from the gcc build of compute.c.
    fn native_results(tmp: &Path) -> Vec<(String, u64)> {
        let exe = tmp.join("compute-native");
        let out = Command::new("gcc").args(["-O2", "-Wall", "-o"]).arg(&exe).arg(compute_c()).output().expect("gcc runs (apt-get install gcc)");
        assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new(&exe).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (n, v) = l.split_once(' ').unwrap();
                (n.to_string(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn prog_run_matches_the_same_c_compiled_natively() {
        let tmp = tempfile::tempdir().unwrap();
        let obj = bpf_build::compile(&compute_c(), tmp.path());
        let native = native_results(tmp.path());
        assert_eq!(native.len(), 6, "crc32, sort, arith64, arith32, bswap, calls");
        // Known answers, so the test also fails if both sides are wrong alike.
        assert_eq!(native.iter().find(|(n, _)| n == "calls").unwrap().1, 18446744073709482196);
        for (name, want) in &native {
            for engine in ["jit", "interp"] {
                let a = args(&["run", obj.to_str().unwrap(), "--prog", name, "--engine", engine, "--repeat", "3"]);
                let report = run(&a).unwrap().unwrap_or_else(|e| panic!("{name} on {engine}: {e}"));
                let text = report.render(false);
                assert!(text.contains(&format!("return value: {want}")), "{name} on {engine}: native {want}, got:\n{text}");
                assert!(text.contains("duration (average): "), "{text}");
            }
        }
    }

    #[test]
    fn json_dump_maps_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs/count.c");
        let obj = bpf_build::compile(&src, tmp.path());
        let ctx = tmp.path().join("ctx.bin");
        std::fs::write(&ctx, 0x1234u64.to_le_bytes()).unwrap();
        let a = args(&["run", obj.to_str().unwrap(), "--prog", "get_count", "--ctx-in", ctx.to_str().unwrap(), "--dump-maps", "-j"]);
        let out = run(&a).unwrap().unwrap().render(true);
        assert!(out.starts_with("{\"program\":\"get_count\",\"engine\":\"jit\",\"retval\":0,\"runs\":1,"), "{out}");
        assert!(out.contains("\"maps\":[{\"name\":\"counts\",\"type\":\"hash\",\"entries\":[]"), "{out}");

        let e = run(&args(&["run", obj.to_str().unwrap()])).err().unwrap().to_string();
        assert!(e.contains("choose one with --prog NAME") && e.contains("get_count (syscall)"), "{e}");
        let e = run(&args(&["run", obj.to_str().unwrap(), "--prog", "nope"])).err().unwrap().to_string();
        assert!(e.contains("no program `nope`"), "{e}");
        let big = "x".repeat(300);
        let e = run(&args(&["run", obj.to_str().unwrap(), "--prog", "get_count", "--arg", &big])).err().unwrap().to_string();
        assert!(e.contains("the context of `get_count` is 256 bytes; the input has 301"), "{e}");
    }
}

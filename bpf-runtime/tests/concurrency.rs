//! `Loaded::run(&self)`: one loaded object run from several threads at
//! once, while another thread reads its maps, as the kernel will run a
//! program on every CPU while the shell dumps its maps. Counts must come
//! out exact (clang's `count.c` increments with an atomic add) and ring
//! buffer records from all producers must arrive whole.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{self, Engine, JitOptions};
use bpf_runtime::runtime::{self, Loaded};
use common::{build_prog, TestEnv};

const THREADS: u64 = 4;
const RUNS: u64 = 20_000;

fn load(name: &str, engine: Engine) -> Loaded {
    let mut obj = runtime::load(&build_prog(name)).unwrap();
    if engine == Engine::Jit {
        obj.compile_jit(&JitOptions::default(), &mut jit::host::install).unwrap();
        assert!(obj.programs.iter().all(|p| p.is_jitted()));
    }
    obj
}

#[test]
fn count_from_several_threads_is_exact_while_the_map_is_read() {
    count_on(Engine::Interp);
}

#[test]
fn count_from_several_threads_is_exact_on_the_jit() {
    count_on(Engine::Jit);
}

fn count_on(engine: Engine) {
    let obj = load("count", engine);
    let prog = obj.find("count").unwrap();
    let ips = [0x1000u64, 0x2000];
    // The first run inserts each key (BPF_NOEXIST: a racing first insert
    // would lose one count, in Linux as here); the rest increment.
    for ip in ips {
        obj.run(&mut Vm::new(), prog, &[0; 48], &mut TestEnv { func_ip: ip, ..Default::default() }).unwrap();
    }
    let done = AtomicBool::new(false);
    // The runners start once the reader is reading: a fast engine would
    // otherwise finish before a loaded machine schedules the reader.
    let reading = AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut dumps = 0u64;
            loop {
                let counts = obj.maps.get(0).unwrap();
                assert_eq!(counts.entries().len(), 2);
                dumps += 1;
                reading.store(true, Ordering::Relaxed);
                if done.load(Ordering::Relaxed) {
                    return dumps;
                }
            }
        });
        while !reading.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        let runners: Vec<_> = (0..THREADS)
            .map(|t| {
                let obj = &obj;
                s.spawn(move || {
                    let mut vm = Vm::new();
                    let mut env = TestEnv::default();
                    for i in 0..RUNS {
                        env.func_ip = ips[((t + i) % 2) as usize];
                        assert_eq!(obj.run(&mut vm, prog, &[0; 48], &mut env).unwrap(), 0);
                    }
                })
            })
            .collect();
        runners.into_iter().for_each(|r| r.join().unwrap());
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0, "the reader ran alongside");
    });
    let counts = obj.maps.get(0).unwrap();
    for ip in ips {
        let v = counts.lookup(&ip.to_le_bytes()).unwrap().unwrap();
        assert_eq!(u64::from_le_bytes(v.try_into().unwrap()), 1 + THREADS * RUNS / 2, "ip {ip:#x}");
    }
}

#[test]
fn ringbuf_records_from_several_producers_arrive_whole() {
    ringbuf_on(Engine::Interp);
}

#[test]
fn ringbuf_records_from_several_producers_arrive_whole_on_the_jit() {
    ringbuf_on(Engine::Jit);
}

fn ringbuf_on(engine: Engine) {
    let obj = load("ringbuf", engine);
    let prog = obj.find("on_openat").unwrap();
    let done = AtomicBool::new(false);
    let popped = std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            let events = obj.maps.get(0).unwrap();
            let mut n = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                while let Some(rec) = events.ringbuf_pop().unwrap() {
                    assert_eq!(rec.len(), 48);
                    assert_eq!(&rec[32..40], b"testapp\0", "a whole record");
                    n += 1;
                }
                if finished {
                    return n;
                }
            }
        });
        let producers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut vm = Vm::new();
                    let mut env = TestEnv::default();
                    for _ in 0..RUNS / 4 {
                        assert_eq!(obj.run(&mut vm, prog, &[0; 64], &mut env).unwrap(), 0);
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        done.store(true, Ordering::Release);
        consumer.join().unwrap()
    });
    let events = obj.maps.get(0).unwrap();
    assert_eq!(popped + events.ringbuf_dropped(), THREADS * RUNS / 4, "every record is either delivered or counted as dropped");
    assert!(popped > 0);
}

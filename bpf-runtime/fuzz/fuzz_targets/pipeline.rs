//! libFuzzer entry: the first byte chooses whether the rest is a program or
//! an ELF object; both go through loader, verifier and interpreter.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((k, rest)) if k & 1 == 0 => {
            harness::program_bytes(rest);
        }
        Some((_, rest)) => {
            harness::elf_bytes(rest);
        }
        None => {}
    }
});

//! Links the kernel with its own linker script (higher-half image, PVH note);
//! the linker itself is `ksyms-ld` (see .cargo/config.toml), which adds the
//! kernel symbol table.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rustc-link-arg-bins=--no-relax");
    println!("cargo:rerun-if-changed=linker.ld");
    // The linker wrapper (.cargo/config.toml) writes the symbol table.
    println!("cargo:rerun-if-changed=ksyms-ld");
}

//! Links the kernel with its own linker script (higher-half image, PVH note).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rustc-link-arg-bins=--no-relax");
    println!("cargo:rerun-if-changed=linker.ld");
}

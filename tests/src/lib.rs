//! End-to-end test support: finds the real `ushell` binary, the kernel it
//! boots and the C test apps built by `build.rs`, runs `ushell run` under a
//! hard timeout, runs many cases on a few threads, drives detached
//! instances (`Instance`) with `ushell` commands, and talks to the debug
//! shell on a VM's virtio console ([`shell`]) and to an instance's socket
//! directly ([`sup`]), and drives interactive commands in a terminal
//! ([`tmux`]).
//!
//! Nothing here mocks anything: every run is a real QEMU boot.

mod instance;
mod locate;
mod native;
mod parallel;
pub mod shell;
pub mod sup;
pub mod tmux;
mod vm;

pub use instance::{ushell, ushell_cmd, ushell_kernel_args, Instance};
pub use locate::{app, apps_dir, kernel_image, ushell_bin, workspace_root, FLAVORS};
pub use parallel::par_map;
pub use vm::{default_accel, runtime_parent, KvmPlan, Output, Vm};

/// Every run of digits replaced by one `N`: app output compared across
/// runs that print measured times (`spun for 10012 ms` and `spun for 9987
/// ms` compare equal).
pub fn mask_numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

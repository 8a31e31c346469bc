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

pub use instance::{ushell, ushell_cmd, Instance};
pub use locate::{app, apps_dir, kernel_image, ushell_bin, workspace_root, FLAVORS};
pub use parallel::par_map;
pub use vm::{default_accel, runtime_parent, KvmPlan, Output, Vm};

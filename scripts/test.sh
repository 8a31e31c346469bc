#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the kernel and the host
# tools, then `cargo test --release` over the default workspace members (all
# host crates and the end-to-end suite, which boots the real kernel in QEMU).
set -euo pipefail
source "$(dirname "$0")/common.sh"

step "cargo kernel (the unikernel image)"
cargo kernel
step "cargo build --release (ushell and the host crates)"
cargo build --release
step "cargo test --release --no-fail-fast (every crate, even after a failure)"
cargo test --release --no-fail-fast
step "all tests passed"

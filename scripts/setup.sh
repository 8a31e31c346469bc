#!/usr/bin/env bash
# Installs what building, testing and benchmarking need, and only what is
# missing: Debian packages through apt-get (as root, or with sudo) and the
# Rust toolchain pinned in rust-toolchain.toml through rustup.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# qemu-system-x86: runs the unikernel. musl-tools, gcc, libc6-dev: build the
# test apps (musl and glibc, static). busybox-static: the demo and the
# differential tests. cpio: the cpio crate's compatibility tests. clang, llvm,
# libbpf-dev: BPF programs. linux-image-amd64: the Linux guest the benchmarks
# compare against. curl, ca-certificates: fetching rustup when it is missing.
PACKAGES=(qemu-system-x86 musl-tools gcc libc6-dev busybox-static cpio clang llvm libbpf-dev tmux
          linux-image-amd64 curl ca-certificates)

say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    say "installing missing packages: ${missing[*]}"
    if [[ $EUID -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        say "error: need root (or sudo) to install: ${missing[*]}"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
    say "Debian packages: all present"
fi

# rustup, then the toolchain rust-toolchain.toml names (with its target and
# components: rustup does not add a missing target by itself).
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v rustup >/dev/null; then
    say "installing rustup (no default toolchain; rust-toolchain.toml picks it)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain none --profile minimal
fi
rustup toolchain install
rustc --version >&2

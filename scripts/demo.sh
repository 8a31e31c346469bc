#!/usr/bin/env bash
# The quickest tour: installs what is missing, builds the unikernel and
# `ushell`, then runs unmodified Linux binaries in the unikernel under QEMU.
set -euo pipefail
source "$(dirname "$0")/common.sh"

step "building the kernel (cargo kernel) and ushell (cargo build --release)"
cargo kernel
cargo build --release

TARGET="${CARGO_TARGET_DIR:-target}"
USHELL="$TARGET/release/ushell"
demo_dir="$TARGET/demo"
mkdir -p "$demo_dir"

show() {
    printf '\n$ %s\n' "$*" >&2
}

step "Debian's static busybox, stdin piped in from the host"
show "echo hello unikernel | $USHELL run /bin/busybox tr a-z A-Z"
echo hello unikernel | "$USHELL" run /bin/busybox tr a-z A-Z

step "a C program built right now with musl-gcc -static; its exit status comes back"
cat > "$demo_dir/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
int main(int argc, char **argv) {
    struct utsname u;
    uname(&u);
    printf("hello from %s, running on %s %s\n", argv[0], u.sysname, u.release);
    return argc > 1 ? atoi(argv[1]) : 0;
}
C
musl-gcc -static -O2 -o "$demo_dir/hello" "$demo_dir/hello.c"
show "$USHELL run $demo_dir/hello 42; echo \"exit status \$?\""
status=0
"$USHELL" run "$demo_dir/hello" 42 || status=$?
echo "exit status $status"

step "a host file passed in with --file, read inside the guest"
show "$USHELL run --file README.md:/README.md /bin/busybox wc -l /README.md"
"$USHELL" run --file README.md:/README.md /bin/busybox wc -l /README.md

printf '\nDone. Try `%s run --help`.\n' "$USHELL" >&2

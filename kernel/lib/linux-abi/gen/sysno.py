#!/usr/bin/env python3
"""Generate kernel/lib/linux-abi/src/sysno.rs from the kernel's x86_64 unistd header.

Usage:
    gen/sysno.py            # rewrite src/sysno.rs next to this script
    gen/sysno.py --stdout   # print the generated file (the test compares it)
    gen/sysno.py --header PATH ...

The output holds ONE list of syscalls, passed once to a macro that derives both
the `SYSCALLS` names table and the `nr::*` constants, so they cannot drift.
"""
import os
import re
import sys

DEFAULT_HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "src", "sysno.rs")

PRELUDE = '''\
//! x86_64 Linux system call numbers and names, generated from
//! `/usr/include/x86_64-linux-gnu/asm/unistd_64.h` (Debian 12 linux-libc-dev)
//! by `kernel/lib/linux-abi/gen/sysno.py`. Do not edit by hand: rerun the
//! generator. The list below is the only copy; the macro turns it into the
//! `SYSCALLS` table and the `nr` constants.

macro_rules! syscalls {
    ($(($nr:literal, $name:literal, $konst:ident)),* $(,)?) => {
        /// `(number, name)` for every x86_64 syscall, sorted by number.
        pub const SYSCALLS: &[(usize, &str)] = &[$(($nr, $name)),*];

        /// Syscall numbers as constants, for the dispatch table.
        #[allow(non_upper_case_globals, dead_code)]
        pub mod nr {
            $(
                #[doc = concat!("`", $name, "`")]
                pub const $konst: usize = $nr;
            )*
        }
    };
}

syscalls! {
'''

POSTLUDE = "}\n"


def parse(text):
    calls = []
    for line in text.splitlines():
        m = re.match(r"#define\s+__NR_([A-Za-z0-9_]+)\s+([0-9]+)\s*$", line)
        if m:
            calls.append((int(m.group(2)), m.group(1)))
    calls.sort()
    nums = [n for n, _ in calls]
    names = [s for _, s in calls]
    if not calls:
        sys.exit("sysno.py: no __NR_ definitions found")
    if len(set(nums)) != len(nums) or len(set(names)) != len(names):
        sys.exit("sysno.py: duplicate syscall number or name in header")
    return calls


def render(calls):
    body = "".join(f'    ({n}, "{s}", {s.upper()}),\n' for n, s in calls)
    return PRELUDE + body + POSTLUDE


def main(argv):
    header = DEFAULT_HEADER
    to_stdout = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--stdout":
            to_stdout = True
        elif a == "--header" and args:
            header = args.pop(0)
        else:
            sys.exit(__doc__)
    with open(header, encoding="utf-8") as f:
        out = render(parse(f.read()))
    if to_stdout:
        sys.stdout.write(out)
    else:
        with open(OUT, "w", encoding="utf-8") as f:
            f.write(out)


if __name__ == "__main__":
    main(sys.argv[1:])

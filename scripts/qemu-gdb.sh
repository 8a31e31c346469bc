#!/bin/sh
# A USHELL_QEMU wrapper for scripts/guest-profile.py: QEMU with its gdbstub
# on the unix socket $GDB_SOCK and instruction counting (-icount).
exec qemu-system-x86_64 "$@" -icount shift=0,sleep=off -gdb "unix:${GDB_SOCK:-/tmp/ushell-gdb.sock},server,nowait"

#!/usr/bin/env python3
"""Samples where a QEMU guest spends its instructions: a sampling profiler
for the unikernel (TCG has no perf). It connects to QEMU's gdbstub, lets
the guest run for a random few milliseconds, stops it, reads rip, and
repeats; then maps the samples to the kernel's symbols (`nm` of the kernel
ELF) and prints the hottest functions. Under `-icount shift=0,sleep=off`
the guest's clock counts instructions, so stopping it changes nothing the
guest can see.

    USHELL_QEMU=scripts/qemu-gdb.sh GDB_SOCK=/tmp/g.sock ushell run ... &
    scripts/guest-profile.py /tmp/g.sock target/x86_64-unknown-none/release/kernel [SAMPLES]

Samples in ring 3 (below the kernel's half) are counted as `[app]`.
"""
import bisect, random, socket, subprocess, sys, time


def packet(data: bytes) -> bytes:
    return b"$" + data + b"#" + b"%02x" % (sum(data) & 0xFF)


class Gdb:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(500):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.02)
        self.buf = b""
        self.s.sendall(b"+")

    def recv_packet(self) -> bytes:
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i)
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                data = self.buf[i + 1:j]
                self.buf = self.buf[j + 3:]
                self.s.sendall(b"+")
                return data
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def cmd(self, data: bytes) -> bytes:
        self.s.sendall(packet(data))
        return self.recv_packet()

    def stop(self):
        """Interrupts the running guest and waits for its stop reply."""
        self.s.sendall(b"\x03")
        while self.recv_packet()[:1] not in (b"T", b"S"):
            pass

    def rip(self) -> int:
        # `g`: all registers; rip is the 17th, eight bytes little-endian.
        self.s.sendall(packet(b"g"))
        r = self.recv_packet()
        while len(r) < 272:
            r = self.recv_packet()  # a late stop reply
        return int.from_bytes(bytes.fromhex(r[256:272].decode()), "little")


def symbols(elf):
    out = subprocess.run(["nm", "-C", "--defined-only", elf], capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    return syms


def main():
    sock, elf = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    syms = symbols(elf)
    addrs = [a for a, _ in syms]
    g = Gdb(sock)
    # Connecting stopped the guest; let the replies so far arrive, drop them.
    g.s.sendall(packet(b"?"))
    time.sleep(0.3)
    g.s.setblocking(False)
    try:
        while g.s.recv(65536):
            pass
    except BlockingIOError:
        pass
    g.s.setblocking(True)
    g.buf = b""
    counts = {}
    taken = 0
    try:
        for _ in range(n):
            g.s.sendall(packet(b"c"))
            time.sleep(random.uniform(0.002, 0.012))
            g.stop()
            rip = g.rip()
            if rip < 1 << 47:
                name = "[app]"
            else:
                i = bisect.bisect_right(addrs, rip) - 1
                name = syms[i][1] if i >= 0 else hex(rip)
            counts[name] = counts.get(name, 0) + 1
            taken += 1
    except (EOFError, OSError):
        pass
    finally:
        try:
            g.s.sendall(packet(b"D"))
        except OSError:
            pass
    print(f"{taken} samples")
    for name, c in sorted(counts.items(), key=lambda kv: -kv[1])[:45]:
        print(f"{100.0 * c / max(taken, 1):6.2f}%  {c:6}  {name[:150]}")


main()

#!/usr/bin/env python3
"""Bytes of machine code per *source* function, counting code inlined into callers, for an
ELF built with line tables (`CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`; the code is the
same as without). Answers "what does this function cost, wherever LTO put it?", which a
symbol list (elfsize.py top) cannot, since after LTO most of umqtt lives inside a few big
symbols.

    inlined.py ELF [-n 60] [--filter umqtt] [--self]

Needs llvm-objdump and llvm-addr2line (any version that reads DWARF 4; LLVM 14 does).
Inclusive (default): every frame in an instruction's inline chain is charged, so a caller
includes its inlined callees. --self: only the innermost frame.
"""
import argparse
import collections
import re
import shutil
import subprocess
import sys


def tool(name):
    for cand in (name, name + "-14", name + "-15", name + "-16", name + "-17", name + "-18", name + "-19"):
        if shutil.which(cand):
            return cand
    sys.exit(f"{name} not found")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("elf")
    p.add_argument("-n", type=int, default=60)
    p.add_argument("--filter", default="")
    p.add_argument("--self", action="store_true")
    a = p.parse_args()

    dis = subprocess.run([tool("llvm-objdump"), "-d", "--no-show-raw-insn", a.elf],
                         capture_output=True, text=True, check=True).stdout
    insns = []  # (addr, size)
    prev = None
    for line in dis.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S.*)$", line)
        if m:
            addr = int(m.group(1), 16)
            if prev is not None and 0 < addr - prev[0] <= 4:
                insns.append((prev[0], addr - prev[0]))
            is_data = m.group(2).startswith(".") or re.match(r"^[0-9a-f]{2} ", m.group(2))
            prev = None if is_data else (addr, None)
        elif line.strip() == "" or line.endswith(">:"):
            if prev is not None:
                insns.append((prev[0], 2))
            prev = None
    # -a prints each address before its inline chain (function, file:line per frame).
    res = subprocess.run([tool("llvm-addr2line"), "--inlines", "-f", "-C", "-a", "-e", a.elf],
                         input="\n".join(hex(x) for x, _ in insns) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    chains, cur = {}, None
    i = 0
    while i < len(res):
        line = res[i]
        if re.match(r"^0x[0-9a-f]+$", line):
            cur = int(line, 16)
            chains[cur] = []
            i += 1
            continue
        fn = line
        loc = res[i + 1] if i + 1 < len(res) else ""
        chains[cur].append((fn, loc))
        i += 2
    inc = collections.Counter()
    for addr, size in insns:
        frames = chains.get(addr, [])
        if not frames:
            inc["?"] += size
            continue
        names = []
        for fn, loc in frames:
            fn = re.sub(r"::h[0-9a-f]{16}$", "", fn)
            src = loc.rsplit(":", 1)[0]
            src = re.sub(r"^.*/(src/)", r"\1", src)
            names.append(f"{fn}  [{src.split('/library/')[-1]}]")
        if a.self:
            inc[names[0]] += size
        else:
            for n in dict.fromkeys(names):
                inc[n] += size
    total = sum(s for _, s in insns)
    print(f"{total} bytes of instructions")
    shown = 0
    for name, size in inc.most_common():
        if a.filter and a.filter not in name:
            continue
        print(f"{size:7d}  {name}")
        shown += 1
        if shown >= a.n:
            break


if __name__ == "__main__":
    main()

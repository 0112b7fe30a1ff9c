#!/usr/bin/env python3
"""Reads section sizes, symbols and `TYPESIZE_*` values straight from ELF files, and
writes docs/size.md. Standard library only (no binutils needed).

    elfsize.py report  --elf-dir DIR --types-elf ELF --host-types TSV --out docs/size.md
    elfsize.py top     ELF [-n 40]          largest functions/objects, demangled
    elfsize.py crates  ELF                  bytes per crate / module (FUNC + OBJECT symbols)
    elfsize.py diff    OLD.elf NEW.elf      per-symbol growth
"""
import argparse
import collections
import datetime
import os
import re
import struct
import subprocess
import sys

SHF_ALLOC = 0x2
SHT_NOBITS = 8
SHT_SYMTAB = 2


class Elf:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF":
            raise SystemExit(f"{path}: not an ELF file")
        self.is64 = d[4] == 2
        self.end = "<" if d[5] == 1 else ">"
        e = self.end
        if self.is64:
            (shoff,) = struct.unpack_from(e + "Q", d, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", d, 0x3A)
        else:
            (shoff,) = struct.unpack_from(e + "I", d, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", d, 0x2E)
        self.sections = []
        for i in range(shnum):
            off = shoff + i * shentsize
            if self.is64:
                name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from(
                    e + "IIQQQQIIQQ", d, off)
            else:
                name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from(
                    e + "IIIIIIIIII", d, off)
            self.sections.append(dict(name_off=name, type=typ, flags=flags, addr=addr, offset=offset,
                                      size=size, link=link, entsize=entsize))
        strtab = self.sections[shstrndx]
        for s in self.sections:
            s["name"] = self._cstr(strtab["offset"] + s["name_off"])

    def _cstr(self, off):
        end = self.data.index(b"\0", off)
        return self.data[off:end].decode("utf-8", "replace")

    def section_sizes(self):
        """Allocated sections (name -> size), as loaded on the target."""
        return {s["name"]: s["size"] for s in self.sections if s["flags"] & SHF_ALLOC}

    def symbols(self):
        for s in self.sections:
            if s["type"] != SHT_SYMTAB:
                continue
            strtab = self.sections[s["link"]]
            n = s["size"] // s["entsize"]
            for i in range(n):
                off = s["offset"] + i * s["entsize"]
                if self.is64:
                    name, info, other, shndx, value, size = struct.unpack_from(self.end + "IBBHQQ", self.data, off)
                else:
                    name, value, size, info, other, shndx = struct.unpack_from(self.end + "IIIBBH", self.data, off)
                yield dict(name=self._cstr(strtab["offset"] + name), value=value, size=size,
                           type=info & 0xF, shndx=shndx)

    def read_u32_symbol(self, name):
        for sym in self.symbols():
            if sym["name"] == name:
                sec = self.sections[sym["shndx"]]
                off = sec["offset"] + sym["value"] - sec["addr"]
                return struct.unpack_from(self.end + "I", self.data, off)[0]
        return None


# --- Rust legacy-mangling demangler (enough for reading a size list) -------------------
_ESC = {"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ","}


def demangle_v0(name):
    """A heuristic for Rust v0 names (`_R...`): the path's identifiers joined with `::`.
    Generic arguments are not rendered; good enough to read a size list."""
    s = re.sub(r"C(s[0-9A-Za-z]*_)?", "C", name[2:])
    out, i = [], 0
    while i < len(s):
        m = re.match(r"(\d+)_?", s[i:])
        if m:
            ln = int(m.group(1))
            start = i + m.end()
            out.append(s[start:start + ln])
            i = start + ln
        else:
            i += 1
    return "::".join(p for p in out if p) or name


def demangle(name):
    if name.startswith("_R"):
        return demangle_v0(name)
    m = re.match(r"^_?_ZN(.*)E$", name)
    if not m:
        return name
    s, parts = m.group(1), []
    while s:
        n = re.match(r"^(\d+)", s)
        if not n:
            return name
        ln = int(n.group(1))
        s = s[len(n.group(1)):]
        parts.append(s[:ln])
        s = s[ln:]
    if parts and re.match(r"^h[0-9a-f]{16}$", parts[-1]):
        parts.pop()
    out = []
    for p in parts:
        if p.startswith("_$"):
            p = p[1:]
        p = re.sub(r"\$([A-Z]{1,2})\$", lambda mm: _ESC.get(mm.group(1), mm.group(0)), p)
        p = re.sub(r"\$u([0-9a-f]+)\$", lambda mm: chr(int(mm.group(1), 16)), p)
        out.append(p.replace("..", "::"))
    return "::".join(out)


def sized_symbols(elf):
    """Function and object symbols with a size, largest first (aliases counted once)."""
    seen, out = set(), []
    for sym in elf.symbols():
        if sym["size"] == 0 or sym["type"] not in (1, 2) or sym["shndx"] == 0:
            continue
        key = (sym["value"] & ~1, sym["size"])
        if key in seen:
            continue
        seen.add(key)
        out.append((sym["size"], demangle(sym["name"]), sym["type"]))
    out.sort(key=lambda t: -t[0])
    return out


def crate_of(name):
    """Groups a demangled symbol by its crate (and top module for umqtt)."""
    n = name.lstrip("<&*")
    if n.startswith("OUTLINED_FUNCTION"):
        return "machine outliner (code fragments shared by several functions)"
    if n.startswith(".L") or n.startswith("anon."):
        return "anonymous constants (.rodata)"
    if n.startswith("__aeabi") or n in ("memcpy", "memset", "memcmp", "memmove") or n.startswith("compiler_builtins"):
        return "compiler_builtins"
    if " as " in n:
        # <Type as Trait>::method: attribute to the type's crate.
        n = n.split(" as ")[0]
    head = n.split("::")
    if head[0] == "umqtt" and len(head) > 1:
        return "umqtt::" + head[1]
    return head[0]


# --- the report -------------------------------------------------------------------------
VARIANTS = [
    # (package, label, job)
    ("size-empty", "empty firmware (baseline)", "-"),
    ("size-umqtt-codec", "(a) umqtt codec", "encode CONNECT (with will, user name and password), PUBLISH QoS 1, SUBSCRIBE; decode CONNACK, PUBLISH, SUBACK (with `encode_from_client` and `decode_from_server`, as a client does)"),
    ("size-umqtt-codec-any", "(a′) umqtt codec, general `decode` and `encode`", "job (a) with the general `decode` and `encode` (all fourteen parsers and writers linked)"),
    ("size-umqtt-client", "(b) umqtt codec + MqttClient", "connect, subscribe, publish QoS 1, wait_msg + callback, ping, disconnect"),
    ("size-umqtt-client-store", "(b‴) umqtt codec + MqttClient + session store", "job (b) with `set_store(RamStore)`: every change written to the store before its packet"),
    ("size-umqtt-client-nor", "(b⁗) umqtt codec + MqttClient + NorFlashStore", "job (b) with `set_store(NorFlashStore)` over two 4 KiB sectors (a NOR flash in RAM standing in for the HAL's)"),
    ("size-mqttrs-codec", "(c) mqttrs 0.4 codec", "job (a)"),
    ("size-minimq-client", "(d) minimq 0.13 client (MQTT 5)", "connect, subscribe, publish QoS 1, recv, disconnect (ping internal)"),
    ("size-rust-mqtt-client", "(e) rust-mqtt 0.6 client (MQTT 5)", "connect, subscribe, publish QoS 1, poll, ping, disconnect"),
]


MEM_RE = re.compile(r"(^|::|_)(__aeabi_)?mem(cpy|move|set|clr|cmp)\d*$")


def measure(path):
    elf = Elf(path)
    s = elf.section_sizes()
    mem = sum(size for size, name, _ in sized_symbols(elf) if MEM_RE.search(name))
    return dict(
        mem=mem,
        text=s.get(".text", 0),
        rodata=s.get(".rodata", 0),
        data=s.get(".data", 0),
        bss=s.get(".bss", 0) + s.get(".uninit", 0),
        vectors=s.get(".vector_table", 0),
    )


def cmd_report(a):
    rows, base = [], None
    for pkg, label, job in VARIANTS:
        path = os.path.join(a.elf_dir, pkg)
        if not os.path.exists(path):
            rows.append((pkg, label, job, None))
            continue
        m = measure(path)
        if pkg == "size-empty":
            base = m
        rows.append((pkg, label, job, m))
    if base is None:
        raise SystemExit("the baseline (size-empty) was not built")

    def delta(m, k):
        return m[k] - base[k]

    def flash(m):
        return delta(m, "text") + delta(m, "rodata") + delta(m, "data")

    ref = next((flash(m) for p, _, _, m in rows if p == "size-mqttrs-codec" and m), None)
    failed = dict(a.failed or [])

    lines = []
    w = lines.append
    w("| variant | flash (bytes) | .text | .rodata | .data | .bss | of which mem* builtins | vs mqttrs codec |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for pkg, label, job, m in rows:
        if m is None:
            w(f"| {label} | not built: {failed.get(pkg, 'see script output')} | | | | | | |")
            continue
        if pkg == "size-empty":
            w(f"| {label} | {m['text'] + m['rodata'] + m['data']} + {m['vectors']} vector table (absolute; subtracted from every row below) "
              f"| {m['text']} | {m['rodata']} | {m['data']} | {m['bss']} | {m['mem']} | |")
            continue
        ratio = f"{flash(m) / ref:.2f}×" if ref else "n/a"
        w(f"| {label} | **{flash(m)}** | {delta(m, 'text')} | {delta(m, 'rodata')} | {delta(m, 'data')} | {delta(m, 'bss')} "
          f"| {delta(m, 'mem')} | {ratio} |")
    table = "\n".join(lines)

    # targets from the issue
    get = {p: (flash(m) if m else None) for p, _, _, m in rows}
    checks = []
    if ref and get.get("size-umqtt-codec") is not None:
        c = get["size-umqtt-codec"]
        checks.append(("umqtt codec ≤ ½ × mqttrs codec", c <= ref / 2, f"{c} B vs limit {ref // 2} B ({c / ref:.0%} of mqttrs)"))
    if ref and get.get("size-umqtt-client") is not None:
        c = get["size-umqtt-client"]
        checks.append(("umqtt codec + client < mqttrs codec", c < ref, f"{c} B vs limit {ref} B ({c / ref:.0%} of mqttrs)"))
    check_md = "\n".join(f"- [{'x' if ok else ' '}] {name}: **{'met' if ok else 'not met'}**, {detail}" for name, ok, detail in checks)
    if ref and get.get("size-umqtt-codec-any") is not None:
        # Not a target: a client uses the client-role pair, as job (a) does.
        c = get["size-umqtt-codec-any"]
        check_md += (f"\n\nFor comparison (not a target): job (a) with the general `decode` and `encode` (a′) "
                     f"is {c} B ({c / ref:.0%} of mqttrs).")
    # The same comparison without compiler_builtins' mem* functions, which every firmware that
    # copies a slice links anyway (informative; the targets above use the full flash).
    mems = {p: m for p, _, _, m in rows if m}
    if "size-mqttrs-codec" in mems:
        own = lambda p: flash(mems[p]) - delta(mems[p], "mem")
        ref_own = own("size-mqttrs-codec")
        extra = [f"{label}: {own(p)} B ({own(p) / ref_own:.0%})" for p, label, _, m in rows
                 if m and p in ("size-umqtt-codec", "size-umqtt-codec-any", "size-umqtt-client")]
        check_md += ("\n\nWithout the mem* builtins (mqttrs codec: " + str(ref_own) + " B): " + "; ".join(extra) + ".")

    # RAM
    types_rows = []
    host = {}
    if a.host_types and os.path.exists(a.host_types):
        for line in open(a.host_types):
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                host[parts[0]] = (int(parts[1]), parts[2])
    tel = Elf(a.types_elf) if a.types_elf and os.path.exists(a.types_elf) else None
    names = list(host)
    if tel:
        names += [sym["name"][len("TYPESIZE_"):] for sym in tel.symbols()
                  if sym["name"].startswith("TYPESIZE_") and sym["name"][len("TYPESIZE_"):] not in host]
    for name in names:
        hsize, what = host.get(name, ("n/a", name))
        tsize = tel.read_u32_symbol("TYPESIZE_" + name) if tel else None
        types_rows.append(f"| {what} | {tsize if tsize is not None else 'n/a'} | {hsize} |")
    ram = "\n".join(["| type | thumbv7em (bytes) | x86_64 host (bytes) |", "|---|---:|---:|"] + types_rows)

    tops = []
    # Symbols the empty firmware has too (vector table, reset handler) are not the job's.
    base_names = {name for _, name, _ in sized_symbols(Elf(os.path.join(a.elf_dir, "size-empty")))}
    for pkg in ("size-umqtt-codec", "size-umqtt-client"):
        path = os.path.join(a.elf_dir, pkg)
        if not os.path.exists(path):
            continue
        syms = [t for t in sized_symbols(Elf(path)) if t[1] not in base_names]
        tops.append(f"<details><summary>{pkg}: largest symbols</summary>\n\n| bytes | symbol |\n|---:|---|")
        for size, name, _ in syms[: a.n]:
            if name.startswith(".L"):
                name = "(anonymous constant; 256 B is core's UTF-8 width table, from str::from_utf8)" if size == 256 else "(anonymous constant)"
            esc = name.replace("|", "\\|")
            tops.append(f"| {size} | `{esc}` |")
        tops.append("\n| bytes | crate / umqtt module |\n|---:|---|")
        by = collections.Counter()
        for size, name, _ in syms:
            by[crate_of(name)] += size
        for k, v in by.most_common():
            tops.append(f"| {v} | {k} |")
        tops.append("\n</details>\n")

    firmware = firmware_table(a.firmware or [])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    versions = a.versions or ""
    doc = TEMPLATE.format(
        table=table, checks=check_md, firmware=firmware,
        host_check=("For this report every job was also run once on the host and completed "
                    "(`cargo run -p <variant>` in `size/`).") if a.host_checked else
                   "(This report was made with `--quick`: the jobs were not run on the host.)", ram=ram, tops="\n".join(tops), rustc=rustc,
        date=datetime.date.today().isoformat(), versions=versions,
        jobs="\n".join(f"| {label} | `{pkg}` | {job} |" for pkg, label, job in VARIANTS),
    )
    if a.out:
        with open(a.out, "w") as f:
            f.write(doc)
    print(table)
    print()
    print(check_md)
    print()
    print(ram)
    print()
    print(firmware)
    if a.strict and not all(ok for _, ok, _ in checks):
        sys.exit(1)


def firmware_table(entries):
    """Whole-program flash and static RAM of real firmware builds (LABEL=ELF each)."""
    if not entries:
        return "(No firmware was built for this report.)"
    out = [
        "A complete application, not a job: everything it links, by section type. Flash is every",
        "allocated section with contents (code, read-only data, the initial values of `.data`,",
        "code copied to IRAM); static RAM is `.data` + `.bss` + code in IRAM. The last column is",
        "what umqtt and embassy-sync (its `shared` client's mutexes) add, from the symbol table.",
        "",
        "| firmware | flash (bytes) | static RAM (bytes) | of which umqtt + embassy-sync (bytes) |",
        "|---|---:|---:|---:|",
    ]
    for entry in entries:
        label, _, path = entry.partition("=")
        if not os.path.exists(path):
            out.append(f"| {label} | not built | | |")
            continue
        elf = Elf(path)
        flash = ram = 0
        for sec in elf.sections:
            if not sec["flags"] & SHF_ALLOC or sec["name"].endswith("_dummy") or sec["name"] == ".stack":
                continue
            writable_or_exec_in_ram = sec["addr"] < 0x42000000 and not (0x3C000000 <= sec["addr"] < 0x3D000000)
            if sec["type"] != 8:  # SHT_NOBITS has no bytes in flash
                flash += sec["size"]
            if writable_or_exec_in_ram:
                ram += sec["size"]
        ours = sum(size for size, name, _ in sized_symbols(elf)
                   if crate_of(name).startswith("umqtt") or crate_of(name) == "embassy_sync")
        out.append(f"| {label} | {flash} | {ram} | {ours} |")
    return "\n".join(out)


TEMPLATE = """# Costs, measured

<!-- Generated by `bash scripts/size.sh` (size/tools/elfsize.py); edit those, not this file. -->

Flash and RAM cost of umqtt on a Cortex-M4F (`thumbv7em-none-eabihf`), next to the other
`no_std` MQTT crates doing the same job. Measured {date} with {rustc}; {versions}.

## Flash

Each row is a separate firmware (`size/<variant>`, a `#![no_std] #![no_main]` cortex-m-rt
binary) doing one job. Sizes are the firmware's `.text + .rodata + .data` (what goes into
flash) **minus the empty firmware**, so they are what the job and its crates add to an
application. Profile: `opt-level = "z"`, `lto = "fat"`, `codegen-units = 1`,
`panic = "abort"`, `debug = false`; the panic handler is a bare loop (no formatting).

{table}

"of which mem* builtins" is the part of the row that is compiler_builtins' `memcpy`,
`memmove`, `memset`/`memclr` and `memcmp` (pulled in by `copy_from_slice`, `copy_within`,
zeroed arrays, slice comparison). An application that copies slices already has most of
these, so the crate's own code is roughly the flash column minus this one.

Targets from the issue:

{checks}

| variant | crate | the job |
|---|---|---|
{jobs}

How the jobs are kept honest:

* Inputs are opaque: topics, client id, payloads and numbers go through
  `core::hint::black_box`; every byte a decoder or client reads is loaded from a static with
  `read_volatile`. Outputs (encoded bytes, decoded fields, the callback's result) leave
  through `black_box` or a volatile store, so nothing is constant-folded or removed.
* (a) decodes with `decode_from_server` and encodes with `encode_from_client`, the pair a
  client uses: they leave out the parsers of the five packets only a client sends and the
  CONNACK and SUBACK writers. (a′) is the same job with the general `decode` and `encode`,
  for a like-for-like view of the whole codec.
* The codec jobs (a) and (c) use the same packets and bytes: CONNECT (client id, keep-alive
  60, clean session), PUBLISH QoS 1 to `sensors/temp`, SUBSCRIBE `cmd/#` QoS 1; decoding
  CONNACK, a QoS 1 PUBLISH on `cmd/led` and a SUBACK. All encodes go through one `send`
  function, as in a real driver, so the encoder is one function for every packet a client
  sends, not three specialised copies. umqtt's row includes validating the topic name and filter, which its
  API requires (mqttrs does not validate topics).
* The client jobs run against a scripted broker (`fw::ScriptIo`, a few dozen bytes of
  harness counted in every client row). {host_check}
* minimq keeps its packet codec private, so only its client can be measured; it has no
  explicit ping (keep-alive runs inside `poll`/`recv`) and needs an `embassy-time` driver
  (a dummy one is included, a few bytes). minimq and rust-mqtt are MQTT 5 async clients
  driven by a minimal `block_on`; they do more (properties, reason codes, MQTT 5 flow
  control), which is part of what they cost.
* rust-mqtt is built with `default-features = false, features = ["v5", "bump"]` (no
  allocator, no logging) and client limits `<8, 8, 8, 1, 0, 0, 0>` (subscriptions,
  receive/send maximum, subscription identifiers, no user properties, no topic aliases).

## RAM

`core::mem::size_of` of what a firmware keeps (measured by `size/type-sizes` on the target
and on the host). The caller-lent buffers come on top: umqtt's client borrows `rx` and `tx`
(the jobs use 256 B each), minimq borrows `Buffers` (256 + 256 B here), rust-mqtt a bump
buffer (256 B here). `.bss` in the table above is the harness only (all state is on the
stack).

{ram}

## Whole firmware

{firmware}

## Where umqtt's bytes go

Symbol sizes from the firmware ELF (after LTO, so inlined code is counted in its caller).

{tops}

To dig further (from `size/`, after `bash scripts/size.sh`; `T=../target/size/thumbv7em-none-eabihf/release`):

* `python3 tools/elfsize.py top $T/size-umqtt-client -n 60`: largest symbols, demangled.
* `python3 tools/elfsize.py crates $T/size-umqtt-client`: bytes per crate / umqtt module.
* `python3 tools/elfsize.py diff OLD.elf NEW.elf`: per-symbol growth between two builds
  (copy an ELF aside before a change, rebuild, compare).
* `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --target thumbv7em-none-eabihf -p size-umqtt-client`
  then `python3 tools/inlined.py $T/size-umqtt-client`: bytes per *source* function
  including everything LTO inlined into it (needs `llvm-objdump` and `llvm-addr2line`;
  the line tables do not change the code).
"""


def cmd_top(a):
    syms = sized_symbols(Elf(a.elf))
    for size, name, typ in syms[: a.n]:
        print(f"{size:7d}  {'F' if typ == 2 else 'O'}  {name}")
    print(f"{sum(s for s, _, _ in syms):7d}  total of sized symbols")


def cmd_crates(a):
    by = collections.Counter()
    for size, name, _ in sized_symbols(Elf(a.elf)):
        by[crate_of(name)] += size
    for k, v in by.most_common():
        print(f"{v:7d}  {k}")


def cmd_diff(a):
    def table(p):
        t = collections.Counter()
        for size, name, _ in sized_symbols(Elf(p)):
            t[name] += size
        return t
    old, new = table(a.old), table(a.new)
    rows = [(new[k] - old[k], k) for k in set(old) | set(new) if new[k] != old[k]]
    rows.sort()
    for d, k in rows:
        print(f"{d:+7d}  {old[k]:6d} -> {new[k]:6d}  {k}")
    so, sn = measure(a.old), measure(a.new)
    print(f"text+rodata+data: {so['text'] + so['rodata'] + so['data']} -> {sn['text'] + sn['rodata'] + sn['data']} "
          f"({sn['text'] + sn['rodata'] + sn['data'] - so['text'] - so['rodata'] - so['data']:+d})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("--elf-dir", required=True)
    r.add_argument("--types-elf")
    r.add_argument("--host-types")
    r.add_argument("--out")
    r.add_argument("--versions")
    r.add_argument("--failed", nargs=2, action="append", metavar=("PKG", "WHY"))
    r.add_argument("--host-checked", action="store_true", help="the jobs were run on the host and completed")
    r.add_argument("--strict", action="store_true", help="exit 1 when a target from the issue is not met")
    r.add_argument("-n", type=int, default=25)
    r.add_argument("--firmware", action="append", metavar="LABEL=ELF",
                   help="a whole firmware to report (flash, static RAM, umqtt's share)")
    t = sub.add_parser("top")
    t.add_argument("elf")
    t.add_argument("-n", type=int, default=40)
    c = sub.add_parser("crates")
    c.add_argument("elf")
    d = sub.add_parser("diff")
    d.add_argument("old")
    d.add_argument("new")
    a = p.parse_args()
    {"report": cmd_report, "top": cmd_top, "crates": cmd_crates, "diff": cmd_diff}[a.cmd](a)


if __name__ == "__main__":
    main()

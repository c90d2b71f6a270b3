#!/usr/bin/env python3
"""tools/wheel.py — packs the portable dbtrun binary into a platform wheel.

    tools/wheel.py --binary build-wheel/dbtrun --version 0.1.0 --out dist
    tools/wheel.py --binary build-wheel/dbtrun --print-glibc     # 2.N

writes dist/dbtrun-<version>-py3-none-manylinux_2_<N>_x86_64.whl: the binary
as dbtrun-<version>.data/scripts/dbtrun (mode 0755), which pip and uv install
into the environment's bin/ folder next to dbt, and dbtrun-<version>.dist-info/
with METADATA, WHEEL and RECORD (PEP 427, PEP 376). Python is not involved at
run time, hence py3-none.

N is read from the binary itself: the highest GLIBC_2.N among the symbol
versions it needs (.gnu.version_r). The binary must need nothing but glibc
(checked from its DT_NEEDED entries): libcurl and libcrypto are dlopened, so
they are not there, and anything else would not be on a manylinux host.

The archive is reproducible: fixed order, fixed times (SOURCE_DATE_EPOCH when
set), fixed modes. Standard library only.
"""
import argparse
import base64
import hashlib
import os
import re
import struct
import sys
import time
import zipfile
from pathlib import Path

NAME = "dbtrun"
# What a manylinux host provides of what a C program links (the manylinux
# policies' lists, restricted to what dbtrun could use).
GLIBC_LIBS = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
              "ld-linux-x86-64.so.2"}
SUMMARY = "A fast task runner for dbt Core teams: one C binary embedding Lua 5.4"
SHT_DYNAMIC, SHT_GNU_VERNEED, DT_NEEDED = 6, 0x6FFFFFFE, 1
EM_X86_64 = 62


class ElfError(Exception):
    pass


def _sections(data):
    """(type, offset, size, link) of each section of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not a little-endian 64-bit ELF file")
    machine = struct.unpack_from("<H", data, 18)[0]
    if machine != EM_X86_64:
        raise ElfError(f"not an x86_64 binary (e_machine {machine})")
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    out = []
    for i in range(shnum):
        _, kind, _, _, off, size, link = struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize)
        out.append((kind, off, size, link))
    return out


def _cstr(data, at):
    return data[at:data.index(b"\0", at)].decode()


def elf_needs(path):
    """(DT_NEEDED names, {library: set of version names}) of an ELF file."""
    data = Path(path).read_bytes()
    secs = _sections(data)
    needed, versions = [], {}
    for kind, off, size, link in secs:
        strtab = secs[link][1]
        if kind == SHT_DYNAMIC:
            for at in range(off, off + size, 16):
                tag, val = struct.unpack_from("<qQ", data, at)
                if tag == DT_NEEDED:
                    needed.append(_cstr(data, strtab + val))
        elif kind == SHT_GNU_VERNEED:
            at = off
            while True:
                _, cnt, file_, aux, nxt = struct.unpack_from("<HHIII", data, at)
                names = versions.setdefault(_cstr(data, strtab + file_), set())
                a = at + aux
                for _ in range(cnt):
                    _, _, _, name, anext = struct.unpack_from("<IHHII", data, a)
                    names.add(_cstr(data, strtab + name))
                    a += anext
                if not nxt:
                    break
                at += nxt
    return needed, versions


def manylinux_tag(path):
    """manylinux_2_N_x86_64 for the newest GLIBC_2.N the binary needs."""
    needed, versions = elf_needs(path)
    foreign = sorted(set(needed) - GLIBC_LIBS)
    if foreign:
        raise ElfError(f"{path} needs {', '.join(foreign)}: a wheel's binary may need only glibc "
                       "(build it with `make portable`)")
    minors = [int(m.group(1)) for names in versions.values() for v in names
              if (m := re.fullmatch(r"GLIBC_2\.(\d+)(?:\.\d+)?", v))]
    # 2.17 is the oldest glibc a manylinux tag may name (PEP 600, manylinux2014).
    return f"manylinux_2_{max(minors + [17])}_x86_64"


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata(version, readme):
    head = (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: {SUMMARY}\n"
            "Classifier: Environment :: Console\n"
            "Classifier: Operating System :: POSIX :: Linux\n"
            "Classifier: Programming Language :: C\n"
            "Classifier: Topic :: Software Development :: Build Tools\n"
            "Description-Content-Type: text/markdown\n\n")
    return head + readme


def build(binary, version, out_dir, readme_path):
    tag = f"py3-none-{manylinux_tag(binary)}"
    dist_info, data_dir = f"{NAME}-{version}.dist-info", f"{NAME}-{version}.data"
    files = [  # (archive name, bytes, mode); RECORD is added last
        (f"{data_dir}/scripts/{NAME}", Path(binary).read_bytes(), 0o755),
        (f"{dist_info}/METADATA", metadata(version, Path(readme_path).read_text()).encode(), 0o644),
        (f"{dist_info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: dbtrun tools/wheel.py\n"
                                f"Root-Is-Purelib: false\nTag: {tag}\n").encode(), 0o644),
    ]
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data, _ in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), 0o644))

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)  # zip: >= 1980
    stamp = time.gmtime(epoch)[:6]
    out = Path(out_dir) / f"{NAME}-{version}-{tag}.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".whl.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with its mode
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that installers read the mode
            zf.writestr(info, data)
    tmp.replace(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--version")
    ap.add_argument("--print-glibc", action="store_true",
                    help="print the glibc the binary needs (2.N) and write nothing")
    ap.add_argument("--out", default="dist")
    ap.add_argument("--readme", default=str(Path(__file__).resolve().parents[1] / "README.md"))
    args = ap.parse_args(argv)
    if args.print_glibc:
        try:
            print("2." + manylinux_tag(args.binary).split("_")[2])
        except (OSError, ElfError) as e:
            print(f"wheel.py: {e}", file=sys.stderr)
            return 1
        return 0
    if not args.version or not re.fullmatch(r"\d+(\.\d+)*([ab]|rc)?\d*", args.version):
        ap.error(f"version {args.version!r} is not a plain release number")
    try:
        out = build(args.binary, args.version, args.out, args.readme)
    except (OSError, ElfError) as e:
        print(f"wheel.py: {e}", file=sys.stderr)
        return 1
    print(f"  WHL  {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""ABI checks of libgradus (toolchain.md §2, style.md "Tests next to features").

  abi.py prototypes HEADER            print the normalised prototype of every gradus_* function, one a line
  abi.py check HEADER LIB GENERATED   run the symbol checks below; exit 1 on any failure
  abi.py update HEADER                append new prototypes to symbols.txt (never rewrites existing lines)

Checks:
  1. symbols.txt is frozen: every listed prototype must still be declared in gradus.h, unchanged
     (removing or changing a symbol fails); every declared prototype must be listed (append it with `update`).
  2. Pinned constants (constants.txt): every listed #define keeps its value; options structs (structs.txt)
     only grow at the end.
  3. gradus_* declared in gradus.h == gradus_* exported by the library (nm -D, version suffix stripped).
  4. Every SWIFT_EXTERN gradus_* in the generated GradusC-Swift.h is declared in gradus.h.
  5. Every @c export in Sources/GradusC is `@c @implementation` (so the compiler checks it against gradus.h).
  6. The C smoke test (bindings/c/tests/smoke.c) calls every function and the Python _ffi declares every one.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def prototypes(header):
    """{name: 'ret name(params);'} for every function declared in the header, whitespace normalised."""
    text = strip_comments(open(header).read()).replace("\\\n", " ")  # join continued preprocessor lines
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    out = {}
    # A declaration: statement ending in ';' whose text has 'gradus_name(' and no '{' / typedef.
    for stmt in re.split(r"[;{}]", text):
        s = " ".join(stmt.split())
        if not s or s.startswith("typedef") or s.startswith("extern \"C\""):
            continue
        m = re.match(r"^(.*?[\s*])(gradus_[a-z0-9_]+)\s*\((.*)\)$", s)
        if not m:
            continue
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
        params = ", ".join(" ".join(p.split()) for p in params.split(","))
        proto = f"{ret} {name}({params});".replace(" *", " *").replace("* ", "*")
        out[name] = proto
    return out


def constants(header):
    out = {}
    for line in open(header):
        m = re.match(r"^#define\s+(GRADUS_[A-Z0-9_]+)\s+(-?[0-9]+)\b", line)
        if m and not m.group(1).startswith("GRADUS_VERSION_") and m.group(1) != "GRADUS_ABI_VERSION":
            out[m.group(1)] = m.group(2)
    return out


def structs(header):
    """{name: [field, ...]} for every options struct (typedef struct name { fields } name;)."""
    text = strip_comments(open(header).read())
    out = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", text, flags=re.S):
        out[m.group(1)] = [" ".join(f.split()) for f in m.group(2).split(";") if f.strip()]
    return out


def read_list(path):
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n") for l in open(path) if l.strip() and not l.startswith("#")]


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", "--extern-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            name = parts[2].split("@")[0]
            if name.startswith("gradus_"):
                names.add(name)
            elif parts[1] in "TDBRW" and not name.startswith("GRADUS_"):
                names.add("!" + name)  # any other global export is an error
    return names


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cmd, header = argv[1], argv[2]
    protos = prototypes(header)
    symfile = os.path.join(HERE, "symbols.txt")
    constfile = os.path.join(HERE, "constants.txt")
    if cmd == "prototypes":
        print("\n".join(protos[n] for n in sorted(protos)))
        return 0
    if cmd == "update":
        frozen = read_list(symfile)
        known = {re.search(r"(gradus_[a-z0-9_]+)\(", l).group(1) for l in frozen}
        new = [protos[n] for n in sorted(protos) if n not in known]
        with open(symfile, "a") as f:
            for p in new:
                f.write(p + "\n")
        have = {l.split()[0] for l in read_list(constfile)}
        consts = constants(header)
        with open(constfile, "a") as f:
            for k in sorted(consts):
                if k not in have:
                    f.write(f"{k} {consts[k]}\n")
        structfile = os.path.join(HERE, "structs.txt")
        have = {l.split(":")[0] for l in read_list(structfile)}
        with open(structfile, "a") as f:
            for name, fields in sorted(structs(header).items()):
                if name not in have:
                    f.write(f"{name}: {'; '.join(fields)}\n")
        print(f"abi: appended {len(new)} prototypes")
        return 0
    if cmd != "check" or len(argv) < 5:
        print(__doc__)
        return 2
    lib, generated = argv[3], argv[4]
    errors = []
    # 1. frozen prototypes
    frozen = read_list(symfile)
    frozen_names = set()
    for line in frozen:
        m = re.search(r"(gradus_[a-z0-9_]+)\(", line)
        name = m.group(1) if m else line
        frozen_names.add(name)
        if name not in protos:
            errors.append(f"symbols.txt: {name} was removed from gradus.h (the ABI is append-only)")
        elif protos[name] != line:
            errors.append(f"symbols.txt: {name} changed:\n    frozen:  {line}\n    header:  {protos[name]}")
    for name in sorted(set(protos) - frozen_names):
        errors.append(f"symbols.txt: new function {name} is not listed; run `python3 Tests/abi/abi.py update include/gradus.h`")
    # 2. pinned constants
    consts = constants(header)
    for line in read_list(constfile):
        k, v = line.split()
        if consts.get(k) != v:
            errors.append(f"constants.txt: {k} must stay {v}, header has {consts.get(k)}")
    # 2b. options structs: the frozen fields must stay a prefix (new fields are appended at the end)
    current = structs(header)
    for line in read_list(os.path.join(HERE, "structs.txt")):
        name, fields = line.split(":", 1)
        fields = [f.strip() for f in fields.split(";") if f.strip()]
        if current.get(name, [])[:len(fields)] != fields:
            errors.append(f"structs.txt: layout of {name} changed (fields may only be appended):"
                          f"\n    frozen:  {fields}\n    header:  {current.get(name)}")
    # 3. header == exports
    exp = exported(lib)
    for name in sorted(n for n in exp if n.startswith("!")):
        errors.append(f"{lib}: exports non-ABI symbol {name[1:]} (check cmake/gradus.map)")
    exp = {n for n in exp if not n.startswith("!")}
    for name in sorted(set(protos) - exp):
        errors.append(f"declared in gradus.h but not exported by {os.path.basename(lib)}: {name}")
    for name in sorted(exp - set(protos)):
        errors.append(f"exported by {os.path.basename(lib)} but not declared in gradus.h: {name}")
    # 4. generated header
    gen = open(generated).read()
    for name in sorted(set(re.findall(r"SWIFT_EXTERN[^;]*?\b(gradus_[a-z0-9_]+)\s*\(", gen))):
        if name not in protos:
            errors.append(f"GradusC-Swift.h exports {name}, which gradus.h does not declare")
    # 5. @c @implementation everywhere
    src = os.path.join(ROOT, "Sources", "GradusC")
    for fn in sorted(os.listdir(src)):
        if fn.endswith(".swift"):
            for i, line in enumerate(open(os.path.join(src, fn)), 1):
                if re.search(r"@c\b(?!\s*@implementation)", line) and not line.lstrip().startswith("//"):
                    errors.append(f"Sources/GradusC/{fn}:{i}: use `@c @implementation` so the compiler checks the prototype")
    # 6. coverage by the C smoke test and the Python _ffi
    smoke = open(os.path.join(ROOT, "bindings", "c", "tests", "smoke.c")).read()
    ffi = open(os.path.join(ROOT, "bindings", "python", "gradus", "_ffi.py")).read()
    for name in sorted(protos):
        if not re.search(r"\b" + name + r"\s*\(", smoke):
            errors.append(f"bindings/c/tests/smoke.c does not call {name}")
        if not re.search(r"[\"']" + name + r"[\"']", ffi):
            errors.append(f"bindings/python/gradus/_ffi.py does not declare {name}")
    for e in errors:
        print("abi: FAIL " + e)
    if not errors:
        print(f"abi: OK ({len(protos)} functions, {len(read_list(constfile))} pinned constants)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

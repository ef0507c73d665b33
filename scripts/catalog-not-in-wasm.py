#!/usr/bin/env python3
"""Checks that no text of the catalog (catalog/*.json) is compiled into the extension's WASM:
the pages read the catalog at run time (wasm/src/i18n.rs), so a text found in the binary is a
copy that drifted back in. Usage: catalog-not-in-wasm.py <catalog dir> <kagi_wasm_bg.wasm>.
Every piece of a text between placeholders ({n}, {bank}, {service}) is looked for if it has
Japanese in it (6 bytes, two characters, or more) or is ASCII of 18 bytes or more: shorter
English ("OK", "Organization", "6 to 8 digits") the code holds for other reasons (X.509
attribute names, the broker's wire messages, catalog keys)."""
import json, pathlib, re, sys

catalog_dir, wasm = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
binary = wasm.read_bytes()
checked, found = 0, []
for path in sorted(catalog_dir.glob("*.json")):
    for key, text in json.loads(path.read_text(encoding="utf-8")).items():
        for piece in re.split(r"\{\w+\}", text):
            b = piece.encode("utf-8")
            if len(b) < (6 if not piece.isascii() else 18):
                continue
            checked += 1
            if b in binary:
                found.append(f"{path.name} {key}: {piece!r}")
for f in found:
    print(f"FAILED: text compiled into {wasm.name}: {f}")
print(f"catalog: {checked} texts looked for in {wasm.name}, {len(found)} found")
sys.exit(1 if found else 0)

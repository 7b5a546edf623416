#!/usr/bin/env python3
"""Builds src/store/codec.dict, the preset dictionary the store compresses report models with.

A stored model is JSON (src/store/codec.rs): the official form's table labels, the model's keys
and the tables' shapes are the same in every report, so the compressor is given them beforehand:
the tables (table2/3/4, raw_cells) of a 2019-form and a 2021-form seed as the model's JSON writes
them, and the table part of their text. The dictionary is part of the stored format: changing it
needs a new format version in codec.rs (old models keep being read with the old one).

Usage: python3 tools/gen_codec_dictionary.py   (needs target/release/ogi-audit built)
"""

import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ["000_32590e3cc98cb08c.txt", "004_b29312736e7f4b68.txt"]
LIMIT = 32 * 1024


def model(seed):
    out = subprocess.run(
        [str(ROOT / "target/release/ogi-audit"), "check", "--format", "json",
         str(ROOT / "tests/fixtures/seeds" / seed)],
        check=False, capture_output=True, cwd=ROOT,
    ).stdout
    return json.loads(out)["reports"][0]["report"]


parts = []
for seed in SEEDS:
    r = model(seed)
    text = r["text"]
    start = text.find("二、主动公开政府信息情况")
    end = text.find("五、存在的主要问题")
    if start >= 0 and end > start:
        parts.append(json.dumps(text[start:end], ensure_ascii=False)[1:-1])
    for key in ["table2", "table3", "table4", "raw_cells"]:
        parts.append(json.dumps({key: r[key]}, ensure_ascii=False, separators=(",", ":"))[1:-1])
data = ",".join(parts).encode()
# Deflate (formats 1 and 2) reaches back 32 KB: the end of the dictionary is what it could use;
# zstd (format 3) takes the same bytes as raw content.
data = data[-LIMIT:]
(ROOT / "src/store/codec.dict").write_bytes(data)
print(f"src/store/codec.dict: {len(data)} bytes")

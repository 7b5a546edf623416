#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with the test fixtures. The corpus directories are not committed
# (see .gitignore): run this once before fuzzing; libFuzzer adds what it finds next to the seeds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fx="$here/../tests/fixtures"
corpus="$here/corpus"
mkdir -p "$corpus"/{extract_bytes,parse_text,html,docx,docx_xml,rules}

# extract_bytes: every fixture but the PDFs (the target skips them) and the READMEs.
for f in "$fx"/seeds/*.txt "$fx"/samples/*.txt "$fx"/samples/*.html "$fx"/generated/*.html \
         "$fx"/generated/*.docx; do
    cp "$f" "$corpus/extract_bytes/$(basename "$f")"
done

# The inputs that once stalled a reader (tests/fixtures/fuzz, replayed by tests/fuzz_regressions.rs).
for f in "$fx"/fuzz/*; do
    cp "$f" "$corpus/extract_bytes/regression-$(basename "$f")"
done

# html: the HTML samples and the GBK HTML copies of the seeds.
for f in "$fx"/samples/*.html "$fx"/generated/*.html; do
    cp "$f" "$corpus/html/$(basename "$f")"
done

# docx: the generated Word copies of the seeds; docx_xml: their word/document.xml.
for f in "$fx"/generated/*.docx; do
    name="$(basename "$f" .docx)"
    cp "$f" "$corpus/docx/$name.docx"
    unzip -p "$f" word/document.xml > "$corpus/docx_xml/$name.document.xml"
done

# parse_text and rules (see fuzz_targets/common.rs for the input layout):
# - a leading even byte: the rest is the text, so each text fixture once as it is;
# - a leading odd byte 2k+1: splice into fixture k at offset bytes 1-2, replacing byte 3 × 4
#   bytes; empty splices at a quarter, a half and three quarters of each of the 10 fixtures.
for target in parse_text rules; do
    for f in "$fx"/seeds/*.txt "$fx"/samples/*.txt; do
        { printf '\x00'; cat "$f"; } > "$corpus/$target/raw-$(basename "$f")"
    done
    for k in 0 1 2 3 4 5 6 7 8 9; do
        mode=$(printf '\\x%02x' $((2 * k + 1)))
        for at in 40 80 c0; do
            printf "${mode}\\x00\\x${at}\\x00" > "$corpus/$target/splice-$k-$at"
        done
    done
done
echo "corpus seeded in $corpus"

#!/usr/bin/env bash
# Word 97-2003 (.doc) and WPS (.wps) versions of the seeds, from their generated .docx (which
# tools/gen_fixtures.py writes, with the tables' merged cells): LibreOffice saves each as .doc,
# and the .wps is the same binary under that name, as WPS 文字 saves a Word-compatible file.
# Needs LibreOffice (Debian package libreoffice-writer-nogui). Run from the repository root:
#   bash tools/gen_doc_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/generated
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
soffice --headless --norestore "-env:UserInstallation=file://$work/profile" \
  --convert-to 'doc:MS Word 97' --outdir "$work" "$out"/*.docx >/dev/null
for doc in "$work"/*.doc; do
  name=$(basename "$doc" .doc)
  cp "$doc" "$out/$name.doc"
  cp "$doc" "$out/$name.wps"
done
ls -l "$out"/*.doc "$out"/*.wps

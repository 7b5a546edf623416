#!/usr/bin/env python3
"""Builds scanned copies of text PDFs: pages as images only, as a unit's stamped paper copy
comes back from the scanner.

Each page is rendered by poppler's pdftoppm at 200 dpi, turned by a small angle (different on
each page, from a fixed seed), blurred a little, given a red seal (on the first page over the
title, on the last over the closing lines or the table that ends there) and saved as a JPEG; the PDF holds only those images (no text layer). The angle, blur
and seal are the classes of damage real scans show; nothing is tuned to one file.

Written to tests/fixtures/scans/:
- one scan of the real sample 2024-huaian-city.pdf and of five generated seeds (the
  `pagebreak`, `labels` and `headers` layouts of tests/fixtures/generated/);
- `long-20pages.scan.pdf`: the Huai'an scan's pages repeated to 20 pages (the images are
  shared between pages, so the file stays small), for the daemon's time and memory limits.

Usage: pip install pillow && python3 tools/gen_scan_fixtures.py   (needs pdftoppm and a
Chinese font, e.g. Debian fonts-wqy-zenhei, for the generated PDFs)
"""

import io
import math
import pathlib
import random
import subprocess
import tempfile

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUT = FIXTURES / "scans"
DPI = 200

SOURCES = [
    (FIXTURES / "samples" / "2024-huaian-city.pdf", "2024-huaian-city.scan.pdf"),
    (FIXTURES / "generated" / "000_32590e3cc98cb08c.pagebreak.pdf", "000_32590e3cc98cb08c.scan.pdf"),
    (FIXTURES / "generated" / "001_7525cffb9e742ff2.pagebreak.pdf", "001_7525cffb9e742ff2.scan.pdf"),
    (FIXTURES / "generated" / "002_51f17e08e942b61d.labels.pdf", "002_51f17e08e942b61d.scan.pdf"),
    (FIXTURES / "generated" / "003_211f0501946b8fa1.labels.pdf", "003_211f0501946b8fa1.scan.pdf"),
    (FIXTURES / "generated" / "004_b29312736e7f4b68.headers.pdf", "004_b29312736e7f4b68.scan.pdf"),
]


def render(pdf):
    """The pages of `pdf` as RGB images at DPI."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), f"{d}/p"], check=True)
        return [Image.open(p).convert("RGB") for p in sorted(pathlib.Path(d).glob("p-*.png"))]


def seal(page, centre, rng):
    """A red seal: a double ring and a star, its ink multiplied onto the page as ink on paper
    is (the black print under it stays black)."""
    radius = int(DPI * 0.8)
    layer = Image.new("RGB", page.size, (255, 255, 255))
    draw = ImageDraw.Draw(layer)
    cx, cy = centre
    red = (214 + rng.randint(-10, 10), 32, 40)
    for r, w in ((radius, 9), (radius - 16, 3)):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=w)
    star = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        r = radius * (0.32 if k % 2 == 0 else 0.13)
        star.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(star, fill=red)
    # Strokes round the ring where the unit's name is carved.
    for k in range(18):
        a = math.pi * (0.85 + k * 1.3 / 17)
        r0, r1 = radius * 0.55, radius * 0.8
        draw.line(
            (cx + r0 * math.cos(a), cy + r0 * math.sin(a), cx + r1 * math.cos(a), cy + r1 * math.sin(a)),
            fill=red,
            width=7,
        )
    page.paste(ImageChops.multiply(page, layer))


def scan(pages, rng):
    """The damaged images."""
    out = []
    for i, page in enumerate(pages):
        if i == 0:
            seal(page, (page.width * 2 // 3, int(DPI * 1.4)), rng)
        if i == len(pages) - 1:
            seal(page, (page.width * 2 // 3, page.height * 2 // 3), rng)
        angle = rng.uniform(-0.8, 0.8)
        page = page.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=(255, 255, 255))
        page = page.filter(ImageFilter.GaussianBlur(0.7))
        out.append(page)
    return out


def jpeg(image):
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=50, optimize=True)
    return buf.getvalue()


def write_pdf(path, images, order):
    """A PDF whose pages show `images[order[k]]`, each image stored once."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    image_ids = []
    for im in images:
        data = jpeg(im)
        head = (
            f"<< /Type /XObject /Subtype /Image /Width {im.width} /Height {im.height} "
            f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>"
        ).encode()
        image_ids.append(add(head + b"\nstream\n" + data + b"\nendstream"))
    pages_id = len(objects) + 1 + 2 * len(order)
    page_ids = []
    for k in order:
        im = images[k]
        w, h = im.width * 72 / DPI, im.height * 72 / DPI
        content = f"q {w:.2f} 0 0 {h:.2f} 0 0 cm /Im0 Do Q".encode()
        cid = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        page_ids.append(
            add(
                (
                    f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {w:.2f} {h:.2f}] "
                    f"/Resources << /XObject << /Im0 {image_ids[k]} 0 R >> >> /Contents {cid} 0 R >>"
                ).encode()
            )
        )
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    assert add(f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()) == pages_id
    catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode())
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for source, name in SOURCES:
        rng = random.Random(name)
        images = scan(render(source), rng)
        write_pdf(OUT / name, images, list(range(len(images))))
        if name.startswith("2024-huaian"):
            write_pdf(OUT / "long-20pages.scan.pdf", images, [k % len(images) for k in range(20)])
        print(name, len(images), "pages")


if __name__ == "__main__":
    main()

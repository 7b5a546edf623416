//! A page image in grey levels: read from the PPM that `pdftoppm` writes, straightened, cut into
//! cells and written as the PGM that Tesseract reads. Those two formats are a text header and
//! raw bytes, so they are read and written here rather than through an image library.

/// A grey image, one byte a pixel (0 black, 255 white), rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Pixels a page image may have at most (a page of A3 at 300 dpi has 17 million).
const MAX_PIXELS: usize = 40_000_000;

impl Gray {
    /// A white image.
    pub fn white(width: usize, height: usize) -> Gray {
        Gray {
            width,
            height,
            pixels: vec![255; width * height],
        }
    }

    /// Reads a binary PPM (`P6`, colour: its red channel, so that a red seal stamped over the
    /// text fades to white) or PGM (`P5`), 8 bits a sample.
    pub fn from_pnm(bytes: &[u8]) -> Result<Gray, String> {
        let mut pos = 0usize;
        let mut fields = Vec::with_capacity(4);
        while fields.len() < 4 {
            // Whitespace and `#` comments separate the header's fields.
            while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'#') {
                if bytes[pos] == b'#' {
                    while pos < bytes.len() && bytes[pos] != b'\n' {
                        pos += 1;
                    }
                } else {
                    pos += 1;
                }
            }
            let start = pos;
            while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if start == pos {
                return Err("image header cut short".to_string());
            }
            fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
        }
        // One whitespace byte ends the header.
        pos += 1;
        let channels = match fields[0].as_str() {
            "P6" => 3,
            "P5" => 1,
            other => return Err(format!("not a binary PPM/PGM image ({other})")),
        };
        let number = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| format!("bad number in image header: {s}"))
        };
        let (width, height, max) = (
            number(&fields[1])?,
            number(&fields[2])?,
            number(&fields[3])?,
        );
        if max != 255 {
            return Err(format!("{max} grey levels; 255 expected"));
        }
        if width == 0 || height == 0 || width.saturating_mul(height) > MAX_PIXELS {
            return Err(format!("image of {width}×{height} pixels"));
        }
        let data = bytes
            .get(pos..pos + width * height * channels)
            .ok_or_else(|| "image data cut short".to_string())?;
        let pixels = if channels == 1 {
            data.to_vec()
        } else {
            data.iter().step_by(3).copied().collect()
        };
        Ok(Gray {
            width,
            height,
            pixels,
        })
    }

    /// The image as a binary PGM.
    pub fn to_pgm(&self) -> Vec<u8> {
        let mut out = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// The part of the image in `[x0, x1) × [y0, y1)` (clipped to the image).
    pub fn crop(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Gray {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        let (x0, y0) = (x0.min(x1), y0.min(y1));
        let mut out = Gray::white(x1 - x0, y1 - y0);
        for y in y0..y1 {
            let row = &self.pixels[y * self.width + x0..y * self.width + x1];
            out.pixels[(y - y0) * out.width..(y - y0 + 1) * out.width].copy_from_slice(row);
        }
        out
    }

    /// Copies `other` into this image with its top left corner at (`x`, `y`), clipped.
    pub fn paste(&mut self, other: &Gray, x: usize, y: usize) {
        for oy in 0..other.height {
            let ty = y + oy;
            if ty >= self.height {
                break;
            }
            let n = other.width.min(self.width.saturating_sub(x));
            let src = &other.pixels[oy * other.width..oy * other.width + n];
            self.pixels[ty * self.width + x..ty * self.width + x + n].copy_from_slice(src);
        }
    }

    /// The image `factor` times larger (bilinear).
    pub fn scaled(&self, factor: f64) -> Gray {
        let w = ((self.width as f64 * factor).round() as usize).max(1);
        let h = ((self.height as f64 * factor).round() as usize).max(1);
        let mut out = Gray::white(w, h);
        for y in 0..h {
            let sy = ((y as f64 + 0.5) / factor - 0.5).clamp(0.0, (self.height - 1) as f64);
            let (y0, fy) = (sy.floor() as usize, sy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for x in 0..w {
                let sx = ((x as f64 + 0.5) / factor - 0.5).clamp(0.0, (self.width - 1) as f64);
                let (x0, fx) = (sx.floor() as usize, sx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                let top = f64::from(self.at(x0, y0)) * (1.0 - fx) + f64::from(self.at(x1, y0)) * fx;
                let bottom =
                    f64::from(self.at(x0, y1)) * (1.0 - fx) + f64::from(self.at(x1, y1)) * fx;
                out.pixels[y * w + x] = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
        out
    }

    /// Whitens every pixel at `level` or lighter.
    pub fn clean(&mut self, level: u8) {
        for p in &mut self.pixels {
            if *p >= level {
                *p = 255;
            }
        }
    }

    /// Whitens `[x0, x1) × [y0, y1)`.
    pub fn blank(&mut self, x0: usize, y0: usize, x1: usize, y1: usize) {
        for y in y0.min(self.height)..y1.min(self.height) {
            let row = &mut self.pixels[y * self.width..(y + 1) * self.width];
            for p in &mut row[x0.min(self.width)..x1.min(self.width)] {
                *p = 255;
            }
        }
    }

    /// The grey level that best parts ink from paper (Otsu's method), kept between 100 and 200
    /// so that a page of almost only paper or almost only ink is not cut in the middle.
    pub fn ink_level(&self) -> u8 {
        let mut histogram = [0u64; 256];
        for &p in &self.pixels {
            histogram[p as usize] += 1;
        }
        let total = self.pixels.len() as f64;
        let sum: f64 = histogram
            .iter()
            .enumerate()
            .map(|(i, &n)| i as f64 * n as f64)
            .sum();
        let (mut below, mut below_sum) = (0f64, 0f64);
        let (mut best, mut best_level) = (0f64, 128u8);
        for (level, &n) in histogram.iter().enumerate() {
            below += n as f64;
            below_sum += level as f64 * n as f64;
            let above = total - below;
            if below == 0.0 || above == 0.0 {
                continue;
            }
            let (m0, m1) = (below_sum / below, (sum - below_sum) / above);
            let between = below * above * (m0 - m1) * (m0 - m1);
            if between > best {
                best = between;
                best_level = level as u8;
            }
        }
        best_level.clamp(100, 200)
    }

    /// The angle (radians) the page's lines are turned by, between −3° and 3°: the angle at
    /// which the ink's projection onto the vertical axis is sharpest (ruling lines and lines of
    /// text then each fall into one band). Measured on a quarter-size copy.
    pub fn skew(&self, ink: u8) -> f64 {
        const STEP: usize = 4;
        let (w, h) = (self.width / STEP, self.height / STEP);
        let mut dots = Vec::new();
        for sy in 0..h {
            for sx in 0..w {
                let dark = (0..STEP).any(|dy| {
                    let row = (sy * STEP + dy) * self.width + sx * STEP;
                    self.pixels[row..row + STEP].iter().any(|&p| p < ink)
                });
                if dark {
                    dots.push((sx as f64, sy as f64));
                }
            }
        }
        if dots.is_empty() {
            return 0.0;
        }
        let score = |angle: f64| {
            let t = angle.tan();
            let offset = (w as f64 * t.abs()).ceil() as usize + 1;
            let mut bins = vec![0u64; h + 2 * offset + 1];
            for &(x, y) in &dots {
                let b = (y - x * t).round() as i64 + offset as i64;
                if let Some(n) = usize::try_from(b).ok().and_then(|b| bins.get_mut(b)) {
                    *n += 1;
                }
            }
            bins.iter().map(|&n| n * n).sum::<u64>()
        };
        let mut best = (score(0.0), 0.0);
        for tenth in -30i32..=30 {
            let angle = f64::from(tenth) * 0.1f64.to_radians();
            let s = score(angle);
            if s > best.0 {
                best = (s, angle);
            }
        }
        // Finer, around the best tenth of a degree, on the full-size ink (every other dark
        // pixel, at most some 400,000 of them).
        let mut fine = Vec::new();
        let dark_count = self.pixels.iter().filter(|&&p| p < ink).count();
        let stride = (dark_count / 400_000).max(2);
        let mut n = 0usize;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) < ink {
                    n += 1;
                    if n.is_multiple_of(stride) {
                        fine.push((x as f64, y as f64));
                    }
                }
            }
        }
        let fine_score = |angle: f64| {
            let t = angle.tan();
            let offset = (self.width as f64 * t.abs()).ceil() as usize + 1;
            let mut bins = vec![0u64; self.height + 2 * offset + 1];
            for &(x, y) in &fine {
                let b = (y - x * t).round() as i64 + offset as i64;
                if let Some(n) = usize::try_from(b).ok().and_then(|b| bins.get_mut(b)) {
                    *n += 1;
                }
            }
            bins.iter().map(|&n| n * n).sum::<u64>()
        };
        let coarse = best.1;
        let mut best = (fine_score(coarse), coarse);
        for hundredth in -30i32..=30 {
            let angle = coarse + f64::from(hundredth) * 0.01f64.to_radians();
            let s = fine_score(angle);
            if s > best.0 {
                best = (s, angle);
            }
        }
        best.1
    }

    /// The image turned by `-angle` about its centre (undoing a page turned by `angle`), the
    /// corners filled with paper.
    pub fn rotated(&self, angle: f64) -> Gray {
        let (sin, cos) = angle.sin_cos();
        let (cx, cy) = (self.width as f64 / 2.0, self.height as f64 / 2.0);
        let mut out = Gray::white(self.width, self.height);
        for y in 0..self.height {
            let dy = y as f64 - cy;
            for x in 0..self.width {
                let dx = x as f64 - cx;
                let sx = (cx + dx * cos - dy * sin).round();
                let sy = (cy + dx * sin + dy * cos).round();
                if sx >= 0.0
                    && sy >= 0.0
                    && (sx as usize) < self.width
                    && (sy as usize) < self.height
                {
                    out.pixels[y * self.width + x] = self.at(sx as usize, sy as usize);
                }
            }
        }
        out
    }

    /// The box `[x0, x1) × [y0, y1)` of the ink (pixels darker than `ink`) inside the given
    /// box, and how many such pixels there are; `None` without ink.
    pub fn ink_box(
        &self,
        ink: u8,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
    ) -> Option<((usize, usize, usize, usize), usize)> {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        let mut found: Option<(usize, usize, usize, usize)> = None;
        let mut count = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                if self.at(x, y) < ink {
                    count += 1;
                    found = Some(match found {
                        None => (x, y, x + 1, y + 1),
                        Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x + 1), d.max(y + 1)),
                    });
                }
            }
        }
        found.map(|b| (b, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lined(width: usize, height: usize, angle: f64) -> Gray {
        // Horizontal lines every 40 pixels, drawn turned by `angle`.
        let mut g = Gray::white(width, height);
        let t = angle.tan();
        for line in (40..height - 40).step_by(40) {
            for x in 20..width - 20 {
                let y = line as f64 + (x as f64 - width as f64 / 2.0) * t;
                for dy in 0..2 {
                    let y = y.round() as usize + dy;
                    if y < height {
                        g.pixels[y * width + x] = 0;
                    }
                }
            }
        }
        g
    }

    #[test]
    fn pnm_headers_and_the_red_channel() {
        let mut ppm = b"P6\n# made by hand\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[255, 0, 0, 10, 20, 30]);
        let g = Gray::from_pnm(&ppm).expect("ppm");
        assert_eq!((g.width, g.height, g.pixels.clone()), (2, 1, vec![255, 10]));
        let pgm = g.to_pgm();
        assert_eq!(Gray::from_pnm(&pgm).expect("pgm"), g);
        assert!(Gray::from_pnm(b"P6\n2 1\n255\n\x01").is_err());
        assert!(Gray::from_pnm(b"P3\n1 1\n255\n0 0 0").is_err());
        assert!(Gray::from_pnm(b"P5\n100000 100000\n255\n").is_err());
        assert!(Gray::from_pnm(b"P5").is_err());
    }

    #[test]
    fn a_turned_page_is_measured_and_straightened() {
        for degrees in [-1.2f64, -0.4, 0.0, 0.7, 2.0] {
            let g = lined(800, 600, degrees.to_radians());
            let skew = g.skew(128).to_degrees();
            assert!((skew - degrees).abs() < 0.06, "{degrees}: {skew}");
            let straight = g.rotated(g.skew(128));
            // Each line now lies in at most 4 rows.
            let dark_rows = (0..600)
                .filter(|&y| (0..800).any(|x| straight.at(x, y) < 128))
                .count();
            assert!(dark_rows <= 13 * 4, "{degrees}: {dark_rows} rows");
        }
    }

    proptest::proptest! {
        /// Any bytes given as an image: an error or an image, never a panic.
        #[test]
        fn any_bytes_as_an_image(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64), head in 0usize..4) {
            let mut data = [&b"P5\n3 2\n255\n"[..], b"P6\n2 2\n255\n", b"P5 1 1 255 ", b"P6\n#c\n9999999 9999999\n255\n"][head].to_vec();
            data.extend(bytes);
            let _ = Gray::from_pnm(&data);
        }
    }

    #[test]
    fn otsu_parts_ink_from_paper() {
        let mut g = Gray::white(100, 100);
        for p in g.pixels.iter_mut().take(2000) {
            *p = 30;
        }
        let level = g.ink_level();
        assert!((100..=200).contains(&level));
        let (b, n) = g.ink_box(level, (0, 0, 100, 100)).expect("ink");
        assert_eq!((b, n), ((0, 0, 100, 20), 2000));
        assert!(g.ink_box(level, (0, 50, 100, 100)).is_none());
    }
}

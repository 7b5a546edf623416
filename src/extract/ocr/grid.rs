//! The tables of a page image, found by their ruling lines: long horizontal and vertical runs of
//! ink that meet one another. Each table is the grid of its lines' positions; a cell is a box of
//! that grid, joined with its neighbour wherever the line between them is missing (a merged
//! cell), so that the rows come out as the DOCX reader writes them: each cell once, in the row
//! where it starts.

use super::image::Gray;

/// A horizontal line: its row and extent.
#[derive(Debug, Clone, Copy)]
struct HLine {
    y: f64,
    x0: usize,
    x1: usize,
}

/// A vertical line: its column and extent.
#[derive(Debug, Clone, Copy)]
struct VLine {
    x: f64,
    y0: usize,
    y1: usize,
}

/// A cell of a table: its inside (lines excluded) and where it starts in the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub row: usize,
    pub col: usize,
    /// `[x0, x1) × [y0, y1)` in the page image, inside the ruling lines.
    pub inside: (usize, usize, usize, usize),
}

/// A table: its outline in the page image and its cells, row by row.
#[derive(Debug, Clone)]
pub struct Table {
    pub outline: (usize, usize, usize, usize),
    pub rows: Vec<Vec<Cell>>,
}

/// A run of ink along a row (or column) at least `min` long; gaps of up to `gap` pixels
/// (a blurred or broken line) do not end it.
fn runs(line: impl Iterator<Item = bool>, min: usize, gap: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut last = 0usize;
    let mut n = 0;
    for (i, dark) in line.enumerate() {
        n = i + 1;
        if !dark {
            continue;
        }
        match start {
            Some(s) if i - last > gap + 1 => {
                if last + 1 - s >= min {
                    out.push((s, last + 1));
                }
                start = Some(i);
            }
            None => start = Some(i),
            _ => {}
        }
        last = i;
    }
    if let Some(s) = start {
        if last + 1 - s >= min && last < n {
            out.push((s, last + 1));
        }
    }
    out
}

/// Runs on neighbouring rows (columns) that overlap are one line: (position, from, to). A band
/// thicker than `thick` is print or a blot, no ruling line.
fn join(runs: Vec<(usize, usize, usize)>, thick: usize) -> Vec<(f64, usize, usize)> {
    // (first, last, from, to, sum of positions, count); runs come in order of position, and
    // only the lines seen on the last rows (columns) can go on.
    let mut lines: Vec<(usize, usize, usize, usize, f64, f64)> = Vec::new();
    let mut active: Vec<usize> = Vec::new();
    for (pos, from, to) in runs {
        active.retain(|&i| lines[i].1 + 2 >= pos);
        let weight = (to - from) as f64;
        let joined = active
            .iter()
            .copied()
            .find(|&i| from <= lines[i].3 + 3 && to + 3 >= lines[i].2);
        match joined {
            Some(i) => {
                let l = &mut lines[i];
                l.1 = pos;
                l.2 = l.2.min(from);
                l.3 = l.3.max(to);
                l.4 += pos as f64 * weight;
                l.5 += weight;
            }
            None => {
                lines.push((pos, pos, from, to, pos as f64 * weight, weight));
                active.push(lines.len() - 1);
            }
        }
    }
    lines
        .into_iter()
        // A thick blot is no ruling line.
        .filter(|l| l.1 - l.0 <= thick)
        .map(|l| (l.4 / l.5.max(1.0), l.2, l.3))
        .collect()
}

/// The tables of a straightened page image at `dpi`, top to bottom: horizontal lines are ink
/// darker than `h_ink`, vertical ones darker than `v_ink`.
pub fn tables(page: &Gray, h_ink: u8, v_ink: u8, dpi: usize) -> Vec<Table> {
    let (w, h) = (page.width, page.height);
    // A ruling line is longer than any stroke of a character.
    let min_h = dpi / 5;
    let min_v = dpi / 12;
    let mut hruns = Vec::new();
    for y in 0..h {
        for (a, b) in runs((0..w).map(|x| page.at(x, y) < h_ink), min_h, 2) {
            hruns.push((y, a, b));
        }
    }
    let mut vruns = Vec::new();
    for x in 0..w {
        for (a, b) in runs((0..h).map(|y| page.at(x, y) < v_ink), min_v, 2) {
            vruns.push((x, a, b));
        }
    }
    vruns.sort_unstable();
    let thick = dpi / 30;
    let hlines: Vec<HLine> = join(hruns, thick)
        .into_iter()
        .map(|(y, x0, x1)| HLine { y, x0, x1 })
        .collect();
    let vlines: Vec<VLine> = join(vruns, thick)
        .into_iter()
        .map(|(x, y0, y1)| VLine { x, y0, y1 })
        .collect();
    let tol = (dpi / 40).max(4) as f64;
    let touches = |h: &HLine, v: &VLine, at_end: Option<bool>| {
        let x_ok = v.x >= h.x0 as f64 - tol && v.x <= h.x1 as f64 + tol;
        let y_ok = match at_end {
            Some(true) => (h.y - v.y0 as f64).abs() <= tol,
            Some(false) => (h.y - v.y1 as f64).abs() <= tol,
            None => h.y >= v.y0 as f64 - tol && h.y <= v.y1 as f64 + tol,
        };
        x_ok && y_ok
    };
    // A vertical line runs from one horizontal line to another; a horizontal line crosses at
    // least two vertical ones. Strokes of characters do neither.
    let vlines: Vec<VLine> = vlines
        .into_iter()
        .filter(|v| {
            hlines.iter().any(|h| touches(h, v, Some(true)))
                && hlines.iter().any(|h| touches(h, v, Some(false)))
        })
        .collect();
    // A column's rule runs through several rows or lines up with another rule; the strokes of
    // a heading squeezed between two tables do neither.
    let vlines: Vec<VLine> = vlines
        .iter()
        .filter(|v| {
            v.y1 - v.y0 >= dpi / 3
                || vlines.iter().any(|u| {
                    !std::ptr::eq(*v, u)
                        && (u.x - v.x).abs() <= tol
                        && (u.y0 >= v.y1.saturating_sub(tol as usize)
                            || u.y1 <= v.y0 + tol as usize)
                })
        })
        .copied()
        .collect();
    let hlines: Vec<HLine> = hlines
        .into_iter()
        .filter(|h| vlines.iter().filter(|v| touches(h, v, None)).count() >= 2)
        .collect();
    // Lines that cross belong to one table.
    let n = hlines.len() + vlines.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for (i, h) in hlines.iter().enumerate() {
        for (j, v) in vlines.iter().enumerate() {
            if touches(h, v, None) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, hlines.len() + j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, (Vec<HLine>, Vec<VLine>)> =
        Default::default();
    for (i, h) in hlines.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().0.push(*h);
    }
    for (j, v) in vlines.iter().enumerate() {
        let root = find(&mut parent, hlines.len() + j);
        groups.entry(root).or_default().1.push(*v);
    }
    // A table spans a good part of the page: a box of lines round a word is no table.
    let mut out: Vec<Table> = groups
        .into_values()
        .filter(|(hs, vs)| hs.len() >= 2 && vs.len() >= 2)
        .filter(|(hs, _)| {
            let (x0, x1) = hs
                .iter()
                .fold((usize::MAX, 0), |(a, b), h| (a.min(h.x0), b.max(h.x1)));
            x1.saturating_sub(x0) * 3 >= w
        })
        .flat_map(|(hs, vs)| split(hs, vs, tol))
        .filter_map(|(hs, vs)| table(&hs, &vs, tol))
        .collect();
    out.sort_by_key(|t| t.outline.1);
    out
}

/// Positions within `tol` of one another are one.
fn cluster(mut positions: Vec<f64>, tol: f64) -> Vec<f64> {
    positions.sort_by(f64::total_cmp);
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in positions {
        match out.last_mut() {
            Some((sum, n)) if p - *sum / *n <= tol => {
                *sum += p;
                *n += 1.0;
            }
            _ => out.push((p, 1.0)),
        }
    }
    out.into_iter().map(|(s, n)| s / n).collect()
}

/// A band between two horizontal lines with no rule at either end of the table is no row: a
/// heading squeezed between two tables, joined to them by its strokes. The lines are parted
/// there (the strokes dropped), into the tables above and below.
fn split(hs: Vec<HLine>, vs: Vec<VLine>, tol: f64) -> Vec<(Vec<HLine>, Vec<VLine>)> {
    let ys = cluster(hs.iter().map(|h| h.y).collect(), tol);
    let xs = cluster(vs.iter().map(|v| v.x).collect(), tol);
    let (Some(&left), Some(&right)) = (xs.first(), xs.last()) else {
        return vec![(hs, vs)];
    };
    let walled = |x: f64, y0: f64, y1: f64| {
        vs.iter().any(|v| {
            (v.x - x).abs() <= tol && (v.y0 as f64) <= y0 + tol && (v.y1 as f64) >= y1 - tol
        })
    };
    let open = ys
        .windows(2)
        .find(|b| !walled(left, b[0], b[1]) && !walled(right, b[0], b[1]));
    let Some(&[top, bottom]) = open else {
        return vec![(hs, vs)];
    };
    let part = |above: bool| {
        let inside = |y: f64| {
            if above {
                y <= top + tol
            } else {
                y >= bottom - tol
            }
        };
        let hs: Vec<HLine> = hs.iter().filter(|h| inside(h.y)).copied().collect();
        let vs: Vec<VLine> = vs
            .iter()
            .filter_map(|v| {
                let (y0, y1) = if above {
                    (v.y0, v.y1.min((top + tol) as usize))
                } else {
                    (v.y0.max((bottom - tol).max(0.0) as usize), v.y1)
                };
                (y1 > y0 + 2 * tol as usize).then_some(VLine { x: v.x, y0, y1 })
            })
            .collect();
        (hs, vs)
    };
    let (above, below) = (part(true), part(false));
    let mut out = Vec::new();
    for (hs, vs) in [above, below] {
        if hs.len() >= 2 && vs.len() >= 2 {
            out.extend(split(hs, vs, tol));
        }
    }
    out
}

/// The cells of one table from its lines.
fn table(hs: &[HLine], vs: &[VLine], tol: f64) -> Option<Table> {
    let ys = cluster(hs.iter().map(|h| h.y).collect(), tol);
    let xs = cluster(vs.iter().map(|v| v.x).collect(), tol);
    let (rows, cols) = (ys.len().checked_sub(1)?, xs.len().checked_sub(1)?);
    if rows == 0 || cols == 0 {
        return None;
    }
    // How much of a span a line covers.
    let cover = |a0: f64, a1: f64, b0: usize, b1: usize| {
        (a1.min(b1 as f64) - a0.max(b0 as f64)).max(0.0) / (a1 - a0).max(1.0)
    };
    let right_wall = |r: usize, c: usize| {
        vs.iter()
            .any(|v| (v.x - xs[c + 1]).abs() <= tol && cover(ys[r], ys[r + 1], v.y0, v.y1) > 0.5)
    };
    let bottom_wall = |r: usize, c: usize| {
        hs.iter()
            .any(|h| (h.y - ys[r + 1]).abs() <= tol && cover(xs[c], xs[c + 1], h.x0, h.x1) > 0.5)
    };
    let mut parent: Vec<usize> = (0..rows * cols).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for r in 0..rows {
        for c in 0..cols {
            if c + 1 < cols && !right_wall(r, c) {
                let (a, b) = (
                    find(&mut parent, r * cols + c),
                    find(&mut parent, r * cols + c + 1),
                );
                parent[b] = a;
            }
            if r + 1 < rows && !bottom_wall(r, c) {
                let (a, b) = (
                    find(&mut parent, r * cols + c),
                    find(&mut parent, (r + 1) * cols + c),
                );
                parent[b] = a;
            }
        }
    }
    // Each merged cell: its first row and column and its last.
    let mut spans: std::collections::BTreeMap<usize, (usize, usize, usize, usize)> =
        Default::default();
    for r in 0..rows {
        for c in 0..cols {
            let root = find(&mut parent, r * cols + c);
            let s = spans.entry(root).or_insert((r, c, r, c));
            *s = (s.0.min(r), s.1.min(c), s.2.max(r), s.3.max(c));
        }
    }
    let margin = tol.ceil() as usize;
    let mut table_rows: Vec<Vec<Cell>> = vec![Vec::new(); rows];
    for (r0, c0, r1, c1) in spans.into_values() {
        let inside = (
            xs[c0].round() as usize + margin,
            ys[r0].round() as usize + margin,
            (xs[c1 + 1].round() as usize).saturating_sub(margin),
            (ys[r1 + 1].round() as usize).saturating_sub(margin),
        );
        table_rows[r0].push(Cell {
            row: r0,
            col: c0,
            inside,
        });
    }
    for row in &mut table_rows {
        row.sort_by_key(|c| c.col);
    }
    Some(Table {
        outline: (
            xs[0].floor() as usize,
            ys[0].floor() as usize,
            xs[cols].ceil() as usize + 1,
            ys[rows].ceil() as usize + 1,
        ),
        rows: table_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hline(g: &mut Gray, y: usize, x0: usize, x1: usize) {
        for x in x0..=x1 {
            for t in 0..3 {
                g.pixels[(y + t) * g.width + x] = 0;
            }
        }
    }

    fn vline(g: &mut Gray, x: usize, y0: usize, y1: usize) {
        for y in y0..=y1 {
            for t in 0..3 {
                g.pixels[y * g.width + x + t] = 0;
            }
        }
    }

    #[test]
    fn merged_cells_come_once_in_the_row_they_start() {
        // Three rows, three columns; the first column's cell spans rows 2 and 3, and the top
        // row's last two columns are one cell.
        let mut g = Gray::white(900, 700);
        let (xs, ys) = ([100, 400, 600, 800], [100, 250, 400, 550]);
        for y in ys {
            hline(&mut g, y, 100, 802);
        }
        for x in xs {
            vline(&mut g, x, 100, 552);
        }
        // Undo the walls that merged cells lack.
        g.blank(101, 400, 399, 403); // between rows 2 and 3 of column 1
        g.blank(600, 104, 603, 249); // between columns 2 and 3 of row 1
                                     // A character-sized stroke inside a cell is no line.
        vline(&mut g, 200, 300, 330);
        let tables = tables(&g, 128, 128, 300);
        assert_eq!(tables.len(), 1);
        let t = &tables[0];
        let shape: Vec<Vec<(usize, usize)>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|c| (c.row, c.col)).collect())
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![(0, 0), (0, 1)],
                vec![(1, 0), (1, 1), (1, 2)],
                vec![(2, 1), (2, 2)]
            ]
        );
        let merged = &t.rows[1][0];
        assert!(merged.inside.1 > 250 && merged.inside.3 < 550 && merged.inside.3 > 500);
    }

    #[test]
    fn a_rule_left_slanted_by_the_straightening_is_one_line() {
        // A vertical rule 0.2° off: its runs step one column every few hundred rows.
        let runs = vec![
            (1271, 1667, 2153),
            (1272, 1151, 2153),
            (1273, 839, 2153),
            (1274, 347, 2153),
            (1275, 231, 1884),
            (1276, 231, 1500),
            (1277, 231, 1000),
        ];
        let lines = join(runs, 10);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!((lines[0].1, lines[0].2), (231, 2153));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any picture of lines, boxes and specks: tables or none, never a panic, and every
        /// cell inside the page.
        #[test]
        fn any_picture_gives_cells_inside_the_page(
            width in 1usize..400,
            height in 1usize..400,
            marks in proptest::collection::vec((0usize..400, 0usize..400, 0usize..400, 0usize..400, proptest::bool::ANY), 0..40),
        ) {
            let mut g = Gray::white(width, height);
            for (x0, y0, x1, y1, fill) in marks {
                let (x0, x1) = (x0.min(x1).min(width), x0.max(x1).min(width));
                let (y0, y1) = (y0.min(y1).min(height), y0.max(y1).min(height));
                for y in y0..y1 {
                    for x in x0..x1 {
                        if fill || x == x0 || y == y0 || x + 1 == x1 || y + 1 == y1 {
                            g.pixels[y * width + x] = 0;
                        }
                    }
                }
            }
            let angle = g.skew(128);
            let g = g.rotated(angle);
            for t in tables(&g, 128, 160, 120) {
                for row in &t.rows {
                    for c in row {
                        proptest::prop_assert!(c.inside.0 <= width + 1 && c.inside.1 <= height + 1);
                        let _ = g.ink_box(128, c.inside);
                        let _ = g.crop(c.inside.0, c.inside.1, c.inside.2, c.inside.3);
                    }
                }
            }
        }
    }

    #[test]
    fn text_alone_is_no_table() {
        let mut g = Gray::white(600, 400);
        for i in 0..10 {
            hline(&mut g, 50 + i * 30, 50, 90);
            vline(&mut g, 60 + i * 40, 100, 130);
        }
        assert!(tables(&g, 128, 128, 300).is_empty());
    }
}

//! Where the chart's text may go. No font is embedded, so each label's box is estimated from its
//! position, size and characters, generously (wider than common sans-serif faces draw them), and
//! the labels placed so far are remembered: a new one goes only where it overlaps none of them.

/// A box on the chart: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// True when `self` lies within `o`.
    pub fn within(&self, o: &Rect) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }
}

/// How a text is aligned on its x (SVG's text-anchor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    pub fn svg(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// The width of `s` at `size` pixels: capitals at 0.78 em, other ASCII at 0.62 em, anything
/// else (—, …) at 1 em.
pub fn width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'A'..='Z' => 0.78,
            _ if c.is_ascii() => 0.62,
            _ => 1.0,
        })
        .sum::<f64>()
        * size
}

/// The box of `s` written at (`x`, `y`) (y is the baseline).
pub fn line_box(x: f64, y: f64, size: f64, anchor: Anchor, s: &str) -> Rect {
    let w = width(s, size);
    let x0 = match anchor {
        Anchor::Start => x,
        Anchor::Middle => x - w / 2.0,
        Anchor::End => x - w,
    };
    Rect {
        x0,
        y0: y - 0.85 * size,
        x1: x0 + w,
        y1: y + 0.25 * size,
    }
}

/// The box of `s` turned a quarter left and centred on (`x`, `y`) (`translate(x y)
/// rotate(-90)`, text-anchor middle).
pub fn upright_box(x: f64, y: f64, size: f64, s: &str) -> Rect {
    let w = width(s, size);
    Rect {
        x0: x - 0.85 * size,
        y0: y - w / 2.0,
        x1: x + 0.25 * size,
        y1: y + w / 2.0,
    }
}

/// The boxes taken so far.
#[derive(Debug, Default)]
pub struct Taken(Vec<Rect>);

impl Taken {
    pub fn free(&self, r: &Rect) -> bool {
        !self.0.iter().any(|t| t.overlaps(r))
    }

    pub fn take(&mut self, r: Rect) {
        self.0.push(r);
    }

    /// Takes `r` when it is free; false when it is not.
    pub fn try_take(&mut self, r: Rect) -> bool {
        let free = self.free(&r);
        if free {
            self.take(r);
        }
        free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes() {
        let b = line_box(100.0, 50.0, 10.0, Anchor::End, "ab");
        assert_eq!((b.x0, b.x1), (100.0 - 12.4, 100.0));
        assert_eq!((b.y0, b.y1), (41.5, 52.5));
        let u = upright_box(20.0, 100.0, 10.0, "ab");
        assert_eq!((u.y0, u.y1), (93.8, 106.2));
        let mut taken = Taken::default();
        assert!(taken.try_take(b));
        assert!(!taken.try_take(line_box(90.0, 55.0, 10.0, Anchor::Start, "x")));
        assert!(taken.try_take(line_box(90.0, 64.0, 10.0, Anchor::Start, "x")));
        assert!(b.within(&Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 100.0,
            y1: 60.0
        }));
    }
}

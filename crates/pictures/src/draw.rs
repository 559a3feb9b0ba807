//! Pictures for the demo catalog, drawn at seed time (nothing is downloaded): a motif for each
//! category (the diamonds of 西兰卡普, a honeycomb, tea terraces, a bamboo weave …) and layered
//! mountains for each producer, varied by a seed taken from the slug.

use image::{DynamicImage, Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 720;

type Color = [f32; 3];

fn rgb(hex: u32) -> Color {
    [
        ((hex >> 16) & 0xFF) as f32,
        ((hex >> 8) & 0xFF) as f32,
        (hex & 0xFF) as f32,
    ]
}

fn mix(a: Color, b: Color, t: f32) -> Color {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn shade(c: Color, factor: f32) -> Color {
    [c[0] * factor, c[1] * factor, c[2] * factor].map(|v| v.clamp(0.0, 255.0))
}

/// A small raster canvas with soft-edged shapes.
struct Canvas {
    pixels: Vec<Color>,
    w: i32,
    h: i32,
}

// Drawing calls read best as geometry then paint, like a 2D canvas API.
#[allow(clippy::too_many_arguments)]
impl Canvas {
    fn new(top: Color, bottom: Color) -> Self {
        let (w, h) = (WIDTH as i32, HEIGHT as i32);
        let mut pixels = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            let c = mix(top, bottom, y as f32 / h as f32);
            pixels.extend(std::iter::repeat_n(c, w as usize));
        }
        Canvas { pixels, w, h }
    }

    fn blend(&mut self, x: i32, y: i32, c: Color, alpha: f32) {
        if x < 0 || y < 0 || x >= self.w || y >= self.h || alpha <= 0.0 {
            return;
        }
        let p = &mut self.pixels[(y * self.w + x) as usize];
        *p = mix(*p, c, alpha.min(1.0));
    }

    /// Fills the pixels in the box where `coverage(x, y)` (a signed distance: negative inside)
    /// says so, with one pixel of soft edge.
    fn fill(
        &mut self,
        bbox: (f32, f32, f32, f32),
        c: Color,
        alpha: f32,
        sdf: impl Fn(f32, f32) -> f32,
    ) {
        let (x0, y0, x1, y1) = bbox;
        for y in (y0.floor() as i32 - 1).max(0)..=(y1.ceil() as i32 + 1).min(self.h - 1) {
            for x in (x0.floor() as i32 - 1).max(0)..=(x1.ceil() as i32 + 1).min(self.w - 1) {
                let d = sdf(x as f32 + 0.5, y as f32 + 0.5);
                let cover = (0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    self.blend(x, y, c, cover * alpha);
                }
            }
        }
    }

    fn circle(&mut self, cx: f32, cy: f32, r: f32, c: Color, alpha: f32) {
        self.fill((cx - r, cy - r, cx + r, cy + r), c, alpha, |x, y| {
            ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r
        });
    }

    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, angle: f32, c: Color, alpha: f32) {
        let (s, co) = angle.sin_cos();
        let r = rx.max(ry);
        self.fill((cx - r, cy - r, cx + r, cy + r), c, alpha, |x, y| {
            let (dx, dy) = (x - cx, y - cy);
            let (u, v) = (dx * co + dy * s, -dx * s + dy * co);
            let k = ((u / rx).powi(2) + (v / ry).powi(2)).sqrt();
            (k - 1.0) * rx.min(ry)
        });
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, radius: f32, c: Color, alpha: f32) {
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let (hx, hy) = ((x1 - x0) / 2.0 - radius, (y1 - y0) / 2.0 - radius);
        self.fill((x0, y0, x1, y1), c, alpha, |x, y| {
            let qx = (x - cx).abs() - hx;
            let qy = (y - cy).abs() - hy;
            let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
            outside + qx.max(qy).min(0.0) - radius
        });
    }

    /// A diamond (rhombus) centred at (cx, cy) with half-diagonals rx, ry.
    fn diamond(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Color, alpha: f32) {
        self.fill((cx - rx, cy - ry, cx + rx, cy + ry), c, alpha, |x, y| {
            ((x - cx).abs() / rx + (y - cy).abs() / ry - 1.0) * rx.min(ry) * 0.7
        });
    }

    fn hexagon(&mut self, cx: f32, cy: f32, r: f32, c: Color, alpha: f32) {
        self.fill((cx - r, cy - r, cx + r, cy + r), c, alpha, |x, y| {
            let (px, py) = ((x - cx).abs(), (y - cy).abs());
            let k = 0.866_025_4;
            (px * k + py * 0.5).max(py) - r * k
        });
    }

    /// Everything below the curve `y = f(x)` painted.
    fn below(&mut self, c: Color, alpha: f32, f: impl Fn(f32) -> f32) {
        for x in 0..self.w {
            let top = f(x as f32);
            for y in (top.floor() as i32).max(0)..self.h {
                let cover = (y as f32 + 0.5 - top).clamp(0.0, 1.0);
                self.blend(x, y, c, cover * alpha);
            }
        }
    }

    fn into_image(self) -> DynamicImage {
        let mut img = RgbImage::new(self.w as u32, self.h as u32);
        for (i, p) in self.pixels.into_iter().enumerate() {
            let (x, y) = (i as i32 % self.w, i as i32 / self.w);
            img.put_pixel(
                x as u32,
                y as u32,
                Rgb(p.map(|v| v.round().clamp(0.0, 255.0) as u8)),
            );
        }
        DynamicImage::ImageRgb8(img)
    }
}

fn rng_for(key: &str) -> StdRng {
    let digest = Sha256::digest(key.as_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest);
    StdRng::from_seed(seed)
}

/// The picture of a product of the given category.
pub fn product_picture(category: &str, key: &str) -> DynamicImage {
    let mut rng = rng_for(key);
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let jitter = |rng: &mut StdRng, c: Color| shade(c, rng.random_range(0.85..1.12));
    match category {
        "larou" => {
            let mut c = Canvas::new(rgb(0x5b4636), rgb(0x2e221a));
            for _ in 0..40 {
                let (x, y) = (rng.random_range(0.0..w), rng.random_range(0.0..h * 0.5));
                c.circle(x, y, rng.random_range(30.0..90.0), rgb(0x8a7a6a), 0.08);
            }
            c.rect(0.0, 90.0, w, 100.0, 2.0, rgb(0x3a2a1a), 1.0);
            let n = rng.random_range(3..=5);
            for i in 0..n {
                let x = w * (i as f32 + 0.5) / n as f32;
                let (bw, bh) = (w / n as f32 * 0.62, rng.random_range(330.0..470.0));
                c.rect(x - 2.0, 95.0, x + 2.0, 160.0, 1.0, rgb(0xc8b28a), 1.0);
                let meat = jitter(&mut rng, rgb(0x7a2a18));
                c.rect(
                    x - bw / 2.0,
                    150.0,
                    x + bw / 2.0,
                    150.0 + bh,
                    26.0,
                    meat,
                    1.0,
                );
                let stripes = rng.random_range(2..=4);
                for s in 0..stripes {
                    let y = 150.0 + bh * (s as f32 + 1.0) / (stripes as f32 + 1.0);
                    c.rect(
                        x - bw / 2.0 + 10.0,
                        y - 9.0,
                        x + bw / 2.0 - 10.0,
                        y + 9.0,
                        8.0,
                        rgb(0xf1dcc0),
                        0.9,
                    );
                }
                c.rect(
                    x - bw / 2.0,
                    150.0,
                    x + bw / 2.0,
                    175.0,
                    12.0,
                    rgb(0x3b1a0e),
                    0.5,
                );
            }
            c.into_image()
        }
        "honey" => {
            let mut c = Canvas::new(rgb(0xf7c948), rgb(0xd98e04));
            let r = rng.random_range(44.0..60.0);
            let (dx, dy) = (r * 1.732, r * 1.5);
            let mut row = 0;
            let mut y = -r;
            while y < h + r {
                let offset = if row % 2 == 0 { 0.0 } else { dx / 2.0 };
                let mut x = -dx + offset;
                while x < w + dx {
                    let tone = jitter(&mut rng, rgb(0xe8a317));
                    c.hexagon(x, y, r * 0.98, rgb(0xfff1c1), 0.9);
                    c.hexagon(x, y, r * 0.84, tone, 1.0);
                    x += dx;
                }
                y += dy;
                row += 1;
            }
            c.rect(
                w * 0.36,
                h * 0.28,
                w * 0.64,
                h * 0.9,
                40.0,
                rgb(0xb86b00),
                0.85,
            );
            c.rect(
                w * 0.34,
                h * 0.2,
                w * 0.66,
                h * 0.3,
                10.0,
                rgb(0x6b3e00),
                1.0,
            );
            c.ellipse(w * 0.44, h * 0.5, 18.0, 70.0, 0.0, rgb(0xffffff), 0.25);
            c.into_image()
        }
        "tea" => {
            let mut c = Canvas::new(rgb(0xdfeee2), rgb(0xa8d5a2));
            for layer in 0..6 {
                let base = h * 0.3 + layer as f32 * h * 0.12;
                let (amp, freq, phase) = (
                    rng.random_range(20.0..50.0),
                    rng.random_range(0.004..0.01),
                    rng.random_range(0.0..6.0),
                );
                let green = shade(rgb(0x2f7d32), 1.25 - layer as f32 * 0.1);
                c.below(green, 1.0, |x| base + amp * (x * freq + phase).sin());
                for k in 0..3 {
                    let y0 = base + 25.0 + k as f32 * 22.0;
                    c.below(rgb(0x1b5e20), 0.25, |x| y0 + amp * (x * freq + phase).sin());
                }
            }
            c.into_image()
        }
        "plum" | "orange" => {
            let (bg0, bg1, fruit, leaf) = if category == "plum" {
                (rgb(0xeaf4d3), rgb(0xc5e1a5), rgb(0x8bc34a), rgb(0x33691e))
            } else {
                (rgb(0xfff3e0), rgb(0xffcc80), rgb(0xf57c00), rgb(0x2e7d32))
            };
            let mut c = Canvas::new(bg0, bg1);
            for _ in 0..14 {
                let (x, y) = (rng.random_range(0.0..w), rng.random_range(0.0..h));
                c.ellipse(
                    x,
                    y,
                    70.0,
                    28.0,
                    rng.random_range(0.0..std::f32::consts::PI),
                    leaf,
                    0.85,
                );
            }
            for _ in 0..rng.random_range(9..14) {
                let (x, y) = (
                    rng.random_range(80.0..w - 80.0),
                    rng.random_range(80.0..h - 80.0),
                );
                let r = if category == "plum" {
                    rng.random_range(55.0..80.0)
                } else {
                    rng.random_range(85.0..120.0)
                };
                let tone = jitter(&mut rng, fruit);
                c.circle(x + 8.0, y + 10.0, r, rgb(0x000000), 0.18);
                c.circle(x, y, r, tone, 1.0);
                c.circle(x - r * 0.35, y - r * 0.35, r * 0.28, rgb(0xffffff), 0.35);
            }
            c.into_image()
        }
        "noodles" => {
            let mut c = Canvas::new(rgb(0xa1887f), rgb(0x6d4c41));
            for _ in 0..160 {
                let (y0, amp, freq, phase) = (
                    rng.random_range(h * 0.15..h * 0.85),
                    rng.random_range(6.0..22.0),
                    rng.random_range(0.01..0.03),
                    rng.random_range(0.0..6.0),
                );
                let tone = jitter(&mut rng, rgb(0x8d6e63));
                for x in (60..(w as i32 - 60)).step_by(2) {
                    let y = y0 + amp * (x as f32 * freq + phase).sin();
                    c.circle(x as f32, y, 2.6, tone, 0.35);
                    c.circle(x as f32, y - 1.0, 1.0, rgb(0xd7ccc8), 0.25);
                }
            }
            c.rect(
                w * 0.45,
                h * 0.1,
                w * 0.55,
                h * 0.9,
                8.0,
                rgb(0xc62828),
                0.9,
            );
            c.into_image()
        }
        "brocade" => {
            let palette = [
                rgb(0xc62828),
                rgb(0x212121),
                rgb(0xfbc02d),
                rgb(0x2e7d32),
                rgb(0x1565c0),
                rgb(0xf5f5f5),
            ];
            let mut c = Canvas::new(rgb(0x1a1a1a), rgb(0x111111));
            let size = rng.random_range(110.0..150.0);
            let start = rng.random_range(0..palette.len());
            let mut row = 0;
            let mut y = 0.0;
            while y < h + size {
                let mut x = if row % 2 == 0 { 0.0 } else { size };
                while x < w + size {
                    for ring in 0..5 {
                        let k = 1.0 - ring as f32 * 0.19;
                        let color = palette[(start + ring + row) % palette.len()];
                        c.diamond(x, y, size * k, size * 0.8 * k, color, 1.0);
                    }
                    x += size * 2.0;
                }
                y += size * 0.8;
                row += 1;
            }
            for band in [h * 0.06, h * 0.94] {
                c.rect(
                    0.0,
                    band - 14.0,
                    w,
                    band + 14.0,
                    0.0,
                    palette[start % palette.len()],
                    1.0,
                );
            }
            c.into_image()
        }
        "bamboo" => {
            let mut c = Canvas::new(rgb(0xe6cf9c), rgb(0xc9a86a));
            let strip = rng.random_range(44.0..60.0);
            let (cols, rows) = ((w / strip) as i32 + 1, (h / strip) as i32 + 1);
            for j in 0..rows {
                for i in 0..cols {
                    let (x, y) = (i as f32 * strip, j as f32 * strip);
                    let over = (i + j) % 2 == 0;
                    let tone = if over { rgb(0xd9b777) } else { rgb(0xb08d4f) };
                    c.rect(
                        x + 2.0,
                        y + 2.0,
                        x + strip - 2.0,
                        y + strip - 2.0,
                        4.0,
                        jitter(&mut rng, tone),
                        1.0,
                    );
                    if over {
                        c.rect(
                            x + 6.0,
                            y + strip * 0.45,
                            x + strip - 6.0,
                            y + strip * 0.55,
                            2.0,
                            rgb(0xf3e2b3),
                            0.6,
                        );
                    } else {
                        c.rect(
                            x + strip * 0.45,
                            y + 6.0,
                            x + strip * 0.55,
                            y + strip - 6.0,
                            2.0,
                            rgb(0x8a6a35),
                            0.5,
                        );
                    }
                }
            }
            c.into_image()
        }
        "embroidery" => {
            let mut c = Canvas::new(rgb(0xfce4ec), rgb(0xf8bbd0));
            let flowers = rng.random_range(3..6);
            for _ in 0..flowers {
                let (cx, cy) = (
                    rng.random_range(150.0..w - 150.0),
                    rng.random_range(150.0..h - 150.0),
                );
                let petals = rng.random_range(5..9);
                let r = rng.random_range(70.0..120.0);
                let base = [rgb(0xd81b60), rgb(0x8e24aa), rgb(0xe53935), rgb(0x3949ab)]
                    [rng.random_range(0..4)];
                let color = jitter(&mut rng, base);
                for p in 0..petals {
                    let a = p as f32 / petals as f32 * std::f32::consts::TAU;
                    c.ellipse(
                        cx + a.cos() * r * 0.55,
                        cy + a.sin() * r * 0.55,
                        r * 0.55,
                        r * 0.22,
                        a,
                        color,
                        0.9,
                    );
                    c.ellipse(
                        cx + a.cos() * r * 0.55,
                        cy + a.sin() * r * 0.55,
                        r * 0.4,
                        r * 0.08,
                        a,
                        rgb(0xffffff),
                        0.35,
                    );
                }
                c.circle(cx, cy, r * 0.18, rgb(0xfdd835), 1.0);
                for _ in 0..3 {
                    let a = rng.random_range(0.0..std::f32::consts::TAU);
                    c.ellipse(
                        cx + a.cos() * r * 1.2,
                        cy + a.sin() * r * 1.2,
                        r * 0.4,
                        r * 0.14,
                        a,
                        rgb(0x43a047),
                        0.9,
                    );
                }
            }
            c.into_image()
        }
        _ => {
            // 山货: mushrooms, walnuts and dried slices on burlap.
            let mut c = Canvas::new(rgb(0xbcaaa4), rgb(0x8d6e63));
            for _ in 0..rng.random_range(10..16) {
                let (x, y) = (
                    rng.random_range(80.0..w - 80.0),
                    rng.random_range(100.0..h - 60.0),
                );
                let r = rng.random_range(55.0..90.0);
                if rng.random_bool(0.5) {
                    c.rect(
                        x - r * 0.2,
                        y,
                        x + r * 0.2,
                        y + r * 0.9,
                        10.0,
                        rgb(0xefe6d8),
                        1.0,
                    );
                    c.ellipse(x, y, r, r * 0.55, 0.0, jitter(&mut rng, rgb(0x5d4037)), 1.0);
                } else {
                    c.circle(x, y, r * 0.6, jitter(&mut rng, rgb(0xa1887f)), 1.0);
                    c.ellipse(x, y, r * 0.05, r * 0.55, 0.0, rgb(0x4e342e), 0.6);
                }
            }
            c.into_image()
        }
    }
}

/// The picture of a producer: mountains, terraces and a house, in colours of its own.
pub fn producer_picture(key: &str) -> DynamicImage {
    let mut rng = rng_for(key);
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let sky_top = shade(rgb(0x90caf9), rng.random_range(0.85..1.1));
    let mut c = Canvas::new(sky_top, rgb(0xfff8e1));
    let sun = (
        rng.random_range(w * 0.1..w * 0.9),
        rng.random_range(h * 0.1..h * 0.3),
    );
    c.circle(sun.0, sun.1, 50.0, rgb(0xfff59d), 0.9);
    let greens = [
        rgb(0x90a4ae),
        rgb(0x78909c),
        rgb(0x66bb6a),
        rgb(0x43a047),
        rgb(0x2e7d32),
    ];
    for (layer, green) in greens.iter().enumerate() {
        let base = h * (0.35 + layer as f32 * 0.11);
        let (a1, f1, p1) = (
            rng.random_range(30.0..90.0),
            rng.random_range(0.003..0.008),
            rng.random_range(0.0..6.0),
        );
        let (a2, f2) = (rng.random_range(10.0..30.0), rng.random_range(0.01..0.03));
        c.below(*green, 1.0, |x| {
            base - a1 * (x * f1 + p1).sin().abs() + a2 * (x * f2).sin()
        });
        if layer >= 2 {
            for k in 1..4 {
                let y0 = base + k as f32 * 16.0;
                c.below(rgb(0xc5e1a5), 0.12, |x| y0 + a2 * (x * f2).sin());
            }
        }
    }
    let (hx, hy) = (rng.random_range(w * 0.2..w * 0.8), h * 0.78);
    c.rect(
        hx - 60.0,
        hy - 40.0,
        hx + 60.0,
        hy + 40.0,
        3.0,
        rgb(0xf5f5f5),
        1.0,
    );
    c.diamond(hx, hy - 40.0, 80.0, 30.0, rgb(0x37474f), 1.0);
    c.rect(hx - 14.0, hy, hx + 14.0, hy + 40.0, 2.0, rgb(0x6d4c41), 1.0);
    c.into_image()
}

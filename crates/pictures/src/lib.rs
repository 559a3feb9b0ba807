//! Pixel work, in its own crate so that it alone is built optimised in development and tests
//! (generic image code is compiled where it is called; unoptimised, resizing and encoding the
//! demo's pictures takes most of a test run):
//!
//! - uploads decoded with limits, turned upright, stripped of metadata (EXIF with its GPS
//!   position never survives re-encoding) and rendered at each display size ([`process`]);
//! - the demo catalog's pictures, drawn at seed time ([`draw`]).

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::str::FromStr;

pub mod draw;

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 15 * 1024 * 1024;
/// Largest picture accepted, in pixels (a 48-megapixel phone photo).
pub const MAX_PIXELS: u64 = 48_000_000;
/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;
const JPEG_QUALITY: u8 = 80;

/// The sizes pages show. Thumbnails and cards are cropped to 4:3 so grids line up; the large
/// size keeps the picture's own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// 160×120: cart lines, small lists.
    Thumb,
    /// 480×360: product cards in a grid (two columns on a phone at 2–3× density).
    Card,
    /// at most 1200 on the long side: the product page.
    Large,
}

impl Size {
    pub const ALL: [Size; 3] = [Size::Thumb, Size::Card, Size::Large];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Thumb => "thumb",
            Size::Card => "card",
            Size::Large => "large",
        }
    }
}

impl FromStr for Size {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Size::ALL.into_iter().find(|z| z.as_str() == s).ok_or(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the file is {bytes} bytes; at most {max} bytes are accepted", max = MAX_UPLOAD_BYTES)]
    TooLarge { bytes: usize },
    #[error("the picture is {width}×{height} pixels; at most {max} pixels and {side} on a side are accepted", max = MAX_PIXELS, side = MAX_SIDE)]
    TooManyPixels { width: u32, height: u32 },
    #[error("the file is not a JPEG, PNG or WebP picture that can be read: {0}")]
    Unreadable(String),
    #[error("the picture could not be re-encoded: {0}")]
    Encode(String),
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub size: Size,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// An image ready to store: its identity, original dimensions and every display size.
#[derive(Debug, Clone)]
pub struct Processed {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub variants: Vec<Variant>,
}

/// Decodes an uploaded file within the limits and renders every display size.
pub fn process(bytes: &[u8]) -> Result<Processed, ImageError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ImageError::TooLarge { bytes: bytes.len() });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Unreadable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ImageError::Unreadable(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture =
        DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Unreadable(e.to_string()))?;
    picture.apply_orientation(orientation);
    process_picture(&picture, hex(&Sha256::digest(bytes)))
}

/// Renders every display size of a decoded picture, identified by `sha256`.
pub fn process_picture(picture: &DynamicImage, sha256: String) -> Result<Processed, ImageError> {
    let variants = Size::ALL
        .into_iter()
        .map(|size| {
            let resized = match size {
                Size::Thumb => picture.resize_to_fill(160, 120, FilterType::Triangle),
                Size::Card => picture.resize_to_fill(480, 360, FilterType::CatmullRom),
                Size::Large if picture.width().max(picture.height()) > 1200 => {
                    picture.resize(1200, 1200, FilterType::CatmullRom)
                }
                Size::Large => picture.clone(),
            };
            let rgb = resized.to_rgb8();
            let mut bytes = Vec::new();
            JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
                .encode_image(&rgb)
                .map_err(|e| ImageError::Encode(e.to_string()))?;
            Ok(Variant {
                size,
                width: rgb.width(),
                height: rgb.height(),
                content_type: "image/jpeg",
                bytes,
            })
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    Ok(Processed {
        sha256,
        width: picture.width(),
        height: picture.height(),
        variants,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn renders_each_size_as_jpeg() {
        let processed = process(&png(1600, 1000)).unwrap();
        let sizes: Vec<_> = processed
            .variants
            .iter()
            .map(|v| (v.size, v.width, v.height))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (Size::Thumb, 160, 120),
                (Size::Card, 480, 360),
                (Size::Large, 1200, 750)
            ]
        );
        for v in &processed.variants {
            assert_eq!(&v.bytes[..2], &[0xFF, 0xD8], "JPEG magic");
        }
    }

    #[test]
    fn refuses_what_is_not_a_picture() {
        let err = process(b"GIF89a but not really").unwrap_err();
        assert!(matches!(err, ImageError::Unreadable(_)), "{err}");
        let err = process(&vec![0u8; MAX_UPLOAD_BYTES + 1]).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge { .. }));
    }

    #[test]
    fn refuses_decompression_bombs() {
        // A tiny PNG that claims to be 20000×20000 pixels.
        let img = RgbImage::new(1, 1);
        let mut bytes = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut bytes, ImageFormat::Png)
            .unwrap();
        let mut bytes = bytes.into_inner();
        // IHDR width and height live at bytes 16..24; patch them and the chunk's CRC.
        bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = process(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::Unreadable(_) | ImageError::TooManyPixels { .. }
            ),
            "{err}"
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}

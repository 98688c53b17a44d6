//! Untrusted bytes to an upright RGB image, refusing decompression bombs before they allocate.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    Unsupported,
    #[error("the image could not be decoded: {0}")]
    Corrupt(String),
    #[error("the image is {width}x{height} pixels, more than the {max_pixels} allowed")]
    TooLarge { width: u32, height: u32, max_pixels: u64 },
}

/// Which container the bytes are, judged by content (magic numbers), never by file name.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// The width and height the image's header declares, read without decoding a pixel: what a
/// capture's budget is checked against before any frame is decoded.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), DecodeError> {
    let format = sniff_format(bytes).ok_or(DecodeError::Unsupported)?;
    let (width, height) = match format {
        ImageFormat::Jpeg => {
            let header = turbojpeg::read_header(bytes).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
            (header.width as u32, header.height as u32)
        }
        _ => ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(classify)?,
    };
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt("the image has no pixels".into()));
    }
    Ok((width, height))
}

/// Decodes JPEG/PNG/WebP, applies EXIF orientation, drops alpha and expands grayscale.
///
/// The header's dimensions are checked against `max_pixels` before any pixel buffer is allocated, and
/// the decoder also gets an allocation limit, so a small file declaring 100000x100000 pixels costs
/// nothing.
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, DecodeError> {
    decode_reduced(bytes, max_pixels, u32::MAX, Scans::All).map(|decoded| decoded.image)
}

/// How much of a progressive JPEG a reduced decode reads (a full-size decode always reads all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scans {
    All,
    /// Drop the AC refinement scans ([`super::scans`]): at 1/2 and below they change the output by a
    /// few grey levels and cost most of the decode.
    SkipAcRefinements,
}

/// A photo decoded at a reduced size, and the size it has in full.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: RgbImage,
    /// The full-resolution width and height (after EXIF orientation).
    pub full: (u32, u32),
}

impl Decoded {
    /// Full-resolution pixels per decoded pixel, horizontally and vertically.
    pub fn scale(&self) -> (f32, f32) {
        (self.full.0 as f32 / self.image.width() as f32, self.full.1 as f32 / self.image.height() as f32)
    }

    pub fn is_reduced(&self) -> bool {
        self.image.dimensions() != self.full
    }
}

/// As [`decode_rgb`], but a JPEG is decoded at the smallest of libjpeg-turbo's DCT scales (1/8, 1/4,
/// 1/2, 1) whose longer side still has `min_long_side` pixels: scaling in the DCT domain skips most of
/// the inverse transform and the colour conversion, and averages pixels where a bilinear resize would
/// alias. PNG and WebP are decoded in full.
pub fn decode_reduced(bytes: &[u8], max_pixels: u64, min_long_side: u32, scans: Scans) -> Result<Decoded, DecodeError> {
    let format = sniff_format(bytes).ok_or(DecodeError::Unsupported)?;
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes, max_pixels, min_long_side, scans);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // RGBA16 is the widest layout these formats decode to; anything beyond is a bomb.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(1 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge { width, height, max_pixels });
    }
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt("the image has no pixels".into()));
    }
    // A missing or malformed EXIF block means "as stored", as every viewer treats it.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    image.apply_orientation(orientation);
    let image = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.into_rgb8(),
    };
    Ok(Decoded { full: image.dimensions(), image })
}

/// libjpeg-turbo's largest power-of-two reduction that keeps `min_long_side` pixels on the longer side.
fn dct_scale(width: u32, height: u32, min_long_side: u32) -> turbojpeg::ScalingFactor {
    let long = width.max(height);
    [8, 4, 2]
        .into_iter()
        .find(|&d| long.div_ceil(d) >= min_long_side)
        .map_or(turbojpeg::ScalingFactor::ONE, |d| turbojpeg::ScalingFactor::new(1, d as usize))
}

/// JPEG through libjpeg-turbo 3 (the `turbojpeg` crate, built from its bundled source), the decoder
/// inside OpenCV and Pillow: the reference pipelines see these exact pixels (148 of the 150
/// reference JPEGs decode bit for bit), and the anti-spoofing models are sensitive to the chroma
/// upsampling a different decoder does. Strict: the `turbojpeg` crate turns libjpeg-turbo's
/// warnings (a truncated scan it would fill with gray) into errors, so half a photo is never
/// enrolled or compared. The
/// header (dimensions, EXIF orientation) is read first by zune-jpeg, so a declared 60000×60000
/// costs nothing.
fn decode_jpeg(bytes: &[u8], max_pixels: u64, min_long_side: u32, scans: Scans) -> Result<Decoded, DecodeError> {
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| DecodeError::Corrupt(e.to_string());
    // zune's own dimension caps are lifted: the pixel limit below decides, with a typed error.
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut header = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    header.decode_headers().map_err(corrupt)?;
    let (width, height) = header.dimensions().ok_or_else(|| DecodeError::Corrupt("no frame header".into()))?;
    let (width, height) = (width as u32, height as u32);
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge { width, height, max_pixels });
    }
    let orientation =
        header.exif().and_then(|exif| Orientation::from_exif_chunk(exif)).unwrap_or(Orientation::NoTransforms);
    let turbo = |e: turbojpeg::Error| DecodeError::Corrupt(e.to_string());
    let mut decompressor = turbojpeg::Decompressor::new().map_err(turbo)?;
    let decoded = decompressor.read_header(bytes).map_err(turbo)?;
    if (decoded.width as u32, decoded.height as u32) != (width, height) {
        return Err(DecodeError::Corrupt("the JPEG's headers disagree on its size".into()));
    }
    let factor = dct_scale(width, height, min_long_side);
    decompressor.set_scaling_factor(factor).map_err(turbo)?;
    let (w, h) = (factor.scale(width as usize), factor.scale(height as usize));
    let mut rgb = RgbImage::new(w as u32, h as u32);
    let output = turbojpeg::Image {
        pixels: rgb.as_mut(),
        width: w,
        pitch: w * 3,
        height: h,
        format: turbojpeg::PixelFormat::RGB,
    };
    // Headers were checked on the original bytes; the edited stream only lacks scans.
    let edited = match scans {
        Scans::SkipAcRefinements if factor != turbojpeg::ScalingFactor::ONE => {
            super::scans::without_ac_refinements(bytes)
        }
        _ => None,
    };
    decompressor.decompress(edited.as_deref().unwrap_or(bytes), output).map_err(turbo)?;
    // Orientations 5–8 swap the axes.
    let swaps = matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    );
    let full = if swaps { (height, width) } else { (width, height) };
    if orientation == Orientation::NoTransforms {
        return Ok(Decoded { image: rgb, full });
    }
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    Ok(Decoded { image: image.into_rgb8(), full })
}

fn classify(err: image::ImageError) -> DecodeError {
    match err {
        image::ImageError::Unsupported(_) => DecodeError::Unsupported,
        image::ImageError::Limits(_) => DecodeError::Corrupt("the image exceeds the decoder's memory limit".into()),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn decodes_a_small_png() {
        let img = decode_rgb(&png(4, 3), 100).unwrap();
        assert_eq!(img.dimensions(), (4, 3));
        assert_eq!(img.get_pixel(0, 0).0, [10, 20, 30]);
    }

    #[test]
    fn refuses_an_image_over_the_pixel_limit_from_its_header() {
        let err = decode_rgb(&png(20, 10), 100).unwrap_err();
        assert_eq!(err, DecodeError::TooLarge { width: 20, height: 10, max_pixels: 100 });
    }

    #[test]
    fn a_png_declaring_huge_dimensions_is_refused_without_allocating() {
        let mut bytes = png(1, 1);
        // IHDR width/height live at bytes 16..24; the CRC is then wrong, which must not matter.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let err = decode_rgb(&bytes, 40_000_000).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. } | DecodeError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn text_and_gif_are_unsupported() {
        assert_eq!(decode_rgb(b"hello world, not an image", 100), Err(DecodeError::Unsupported));
        assert_eq!(decode_rgb(b"GIF89a\x01\x00\x01\x00", 100), Err(DecodeError::Unsupported));
        assert_eq!(decode_rgb(b"", 100), Err(DecodeError::Unsupported));
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, (x ^ y) as u8]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg).unwrap();
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000),
            ..Default::default()
        })]

        /// Real JPEG/PNG bytes with random corruption, truncation and header edits: a decoded image
        /// within the pixel limit or a typed error, never a panic.
        #[test]
        fn corrupted_images_never_panic(
            png_not_jpeg in proptest::prelude::any::<bool>(),
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..16),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut bytes = if png_not_jpeg { png(33, 17) } else { jpeg(33, 17) };
            for (at, value) in flips {
                let i = at % bytes.len();
                bytes[i] = value;
            }
            let keep = bytes.len() - cut % (bytes.len() / 2);
            bytes.truncate(keep);
            if let Ok(img) = decode_rgb(&bytes, 10_000) {
                proptest::prop_assert!(u64::from(img.width()) * u64::from(img.height()) <= 10_000);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode_rgb(&bytes, 10_000);
        }
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt_not_filled_with_gray() {
        let bytes = jpeg(64, 64);
        assert!(decode_rgb(&bytes, 1 << 20).is_ok());
        let err = decode_rgb(&bytes[..bytes.len() * 2 / 3], 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn a_large_jpeg_decodes_at_the_smallest_dct_scale_that_keeps_the_asked_side() {
        let bytes = jpeg(1000, 600);
        let half = decode_reduced(&bytes, 1 << 24, 400, Scans::All).unwrap();
        assert_eq!((half.image.dimensions(), half.full), ((500, 300), (1000, 600)));
        assert_eq!(half.scale(), (2.0, 2.0));
        let eighth = decode_reduced(&bytes, 1 << 24, 100, Scans::All).unwrap();
        assert_eq!(eighth.image.dimensions(), (125, 75));
        let full = decode_reduced(&bytes, 1 << 24, 640, Scans::All).unwrap();
        assert!(!full.is_reduced());
        // A PNG has no DCT: always in full.
        assert!(!decode_reduced(&png(1000, 600), 1 << 24, 100, Scans::All).unwrap().is_reduced());
    }

    #[test]
    fn a_truncated_png_is_corrupt_not_a_panic() {
        let bytes = png(64, 64);
        let err = decode_rgb(&bytes[..bytes.len() / 2], 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }
}

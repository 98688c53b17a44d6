//! Hostile uploads: every case a 4xx with the right code, the process up, memory bounded.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};

use crate::helpers::*;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A valid 1x1 PNG whose header (with a correct CRC) declares `w`x`h` pixels.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = encode(&RgbImage::new(1, 1), ImageFormat::Png);
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A small real JPEG whose frame header claims `w`x`h`.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = encode(&RgbImage::new(16, 16), ImageFormat::Jpeg);
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).expect("baseline JPEG");
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn hostile_uploads_are_refused_with_4xx_and_the_process_stays_small() {
    let app = spawn(&[]);
    let jpeg = face(ANGELINA_1);
    // Decompresses to 48 MP (144 MB of RGB) from a few kilobytes: refused from the header.
    let png_bomb = encode(&RgbImage::new(8000, 6000), ImageFormat::Png);
    assert!(png_bomb.len() < 1 << 20, "the bomb is small: {} bytes", png_bomb.len());
    let mut garbage = vec![0u8; 4096];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    let mut truncated_jpeg = jpeg.clone();
    truncated_jpeg.truncate(jpeg.len() / 3);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("PNG declaring 100000x100000", png_declaring(100_000, 100_000), 413, "image_too_large"),
        ("PNG bomb 8000x6000", png_bomb, 413, "image_too_large"),
        ("JPEG declaring 60000x60000", jpeg_declaring(60_000, 60_000), 413, "image_too_large"),
        // A scan that ends long before the frame the header declares: libjpeg-turbo's warning, an error
        // here (zune-jpeg used to decode it as a blank image, which answered no_face).
        ("JPEG with a lying frame header", jpeg_declaring(4000, 3000), 400, "invalid_image"),
        ("0-byte file", Vec::new(), 400, "invalid_image"),
        ("garbage", garbage, 415, "unsupported_media_type"),
        ("JPEG magic then garbage", [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0u8; 100]].concat(), 400, "invalid_image"),
        ("truncated real JPEG", truncated_jpeg, 400, "invalid_image"),
        ("PDF", b"%PDF-1.4\n1 0 obj\n".to_vec(), 415, "unsupported_media_type"),
        ("GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), 415, "unsupported_media_type"),
    ];
    let count = cases.len();
    for (what, bytes, status, code) in cases {
        for route in ["/api/register", "/api/verify"] {
            let reply = app.post_form(route, TestApp::form("mallory", bytes.clone())).await;
            // verify of an unknown user may also answer 404 once the image itself is fine
            assert_eq!((reply.status, reply.code()), (status, code), "{what} on {route}: {:?}", reply.body);
        }
    }
    assert_eq!(app.get("/health").await.status, 200, "the process is still up");
    let peak = peak_rss_kib(app.pid());
    assert!(peak < 600 * 1024, "peak RSS {peak} KiB: nothing allocated in proportion to declared sizes");
    eprintln!("{} hostile cases x 2 routes refused; peak RSS {} MiB", count, peak / 1024);
}

//! The photos the tests use, keys, and the environment of a keyed server.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn face(rel: &str) -> Vec<u8> {
    let dir = std::env::var_os("FACES_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/faces"));
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A photo scaled down to `side` pixels square, as a JPEG: an LFW face 100 px across becomes one
/// 16 px between the eyes.
pub fn shrunk(rel: &str, side: u32) -> Vec<u8> {
    let photo = image::load_from_memory(&face(rel)).unwrap();
    let small = photo.resize_exact(side, side, image::imageops::FilterType::Triangle).into_rgb8();
    let mut out = Vec::new();
    small.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

/// Photos used across tests.
pub const ANGELINA_1: &str = "dev/Angelina_Jolie/deepface_img1.jpg";
pub const ANGELINA_2: &str = "dev/Angelina_Jolie/deepface_img2.jpg";
pub const ANGELINA_4: &str = "dev/Angelina_Jolie/deepface_img4.jpg";
pub const ANISTON: &str = "dev/Jennifer_Aniston/deepface_img3.jpg";
pub const ANISTON_2: &str = "dev/Jennifer_Aniston/deepface_img12.jpg";

/// A fresh P-256 signing key as PKCS#8 PEM, as `openssl genpkey` writes one.
pub fn signing_key_pem() -> String {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).unwrap();
    p256::SecretKey::from_slice(&bytes).unwrap().to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// A server with a backend (secret) key and a frontend (client) key, `extra` on top.
pub fn keyed(secret: &str, client: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![("API_KEYS".to_string(), secret.to_string()), ("CLIENT_API_KEYS".into(), client.into())];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

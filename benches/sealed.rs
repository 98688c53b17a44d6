//! Verify latency with and without templates sealed under a KMS key (`TEMPLATE_KMS_KEY_ID`), side
//! by side on one moto server (S3 and KMS on loopback): `make bench-sealed`.
//!
//! Two pairs of services: with the embedding cache (the default: a user's references are read
//! and opened once per EMBEDDING_CACHE_TTL_SECS) and without it (every verify reads and opens the
//! user's sidecars, the worst case). Requests alternate between the pair, so drift in the machine's
//! load hits both alike; the figures are p50s and their ratio. Environment: SEALED_REQUESTS (100).
//! moto answers KMS on loopback in about a millisecond; AWS KMS in the same region takes longer,
//! which the data-key cache (TEMPLATE_KEY_CACHE_SECS) hides for all but the first use of a key.

mod common;

use std::time::Instant;

use common::{client, env_num, median, moto, read, register, s3_env, start_service};

const REFERENCE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg";
const PROBE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg";

async fn call(endpoint: &str, service: &str, target: &str, body: serde_json::Value) -> serde_json::Value {
    let credential = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", target)
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", credential)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn verify_ms(client: &reqwest::Client, base: &str, probe: &[u8]) -> f64 {
    let form = reqwest::multipart::Form::new()
        .text("user_id", "adel")
        .part("image", reqwest::multipart::Part::bytes(probe.to_vec()).file_name("p.jpg"));
    let started = Instant::now();
    let response = client.post(format!("{base}/api/verify")).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    started.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let requests = env_num("SEALED_REQUESTS", 100);
    let moto = moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let key = rt.block_on(async {
        let bucket = "bench-sealed";
        reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await.unwrap();
        let created = call(&endpoint, "kms", "TrentService.CreateKey", serde_json::json!({})).await;
        created["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    });
    let probe = read(PROBE);
    println!("verify p50, {requests} requests each, alternating; moto S3 + KMS on loopback");
    for (label, cache) in [("embedding cache on (default)", "10000"), ("embedding cache off", "0")] {
        let data = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut common = s3_env("bench-sealed", &endpoint);
        common.extend([("EMBEDDING_CACHE_USERS", cache), ("REPLAY_WINDOW_SECS", "0")]);
        let plain_prefix = format!("plain-{cache}/");
        let sealed_prefix = format!("sealed-{cache}/");
        let mut plain_env = common.to_vec();
        plain_env.push(("S3_PREFIX", &plain_prefix));
        let mut sealed_env = common.to_vec();
        sealed_env.extend([("S3_PREFIX", sealed_prefix.as_str()), ("TEMPLATE_KMS_KEY_ID", key.as_str())]);
        let plain = start_service(data[0].path(), &plain_env);
        let sealed = start_service(data[1].path(), &sealed_env);
        let (p, s) = rt.block_on(async {
            let client = client();
            register(&client, &plain.base, "adel", REFERENCE).await;
            register(&client, &sealed.base, "adel", REFERENCE).await;
            for _ in 0..5 {
                verify_ms(&client, &plain.base, &probe).await;
                verify_ms(&client, &sealed.base, &probe).await;
            }
            let (mut p, mut s) = (Vec::new(), Vec::new());
            for _ in 0..requests {
                p.push(verify_ms(&client, &plain.base, &probe).await);
                s.push(verify_ms(&client, &sealed.base, &probe).await);
            }
            (median(p), median(s))
        });
        println!("  {label:<30} plaintext {p:>6.2} ms   sealed {s:>6.2} ms   ratio {:.3}", s / p);
    }
}

//! Does the time of a verify tell an enrolled id from an unknown one? `make bench-timing`.
//!
//! S3 is moto behind a relay that holds every chunk 25 ms each way (an S3 bucket in another region,
//! or a slow one), so each storage round trip costs about 50 ms and a difference in round trips
//! would show as tens of milliseconds. A client key asks, for TIMING_USERS (60) enrolled ids and as
//! many unknown ones, whether a stranger's photo is that user: the answers are identical (401
//! not_verified), and each id is asked once, so neither the embedding cache nor the failure counters
//! help either side. Requests alternate between the two kinds, so drift in the machine's load hits
//! both alike. Printed: each kind's median and p90, and the difference of the medians.

mod common;

use std::time::{Duration, Instant};

use common::relay::Relay;
use common::{client, env_num, median, moto, percentile, read, s3_env, start_service};

const REFERENCE: &str = "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg";
const STRANGER: &str = "dev/Jennifer_Aniston/deepface_img3.jpg";
const SECRET: &str = "bench-backend-secret-0123456789";
const CLIENT: &str = "pk_bench_0123456789";

async fn register(client: &reqwest::Client, base: &str, user: &str, photo: &[u8]) {
    let form = reqwest::multipart::Form::new()
        .text("user_id", user.to_string())
        .part("image", reqwest::multipart::Part::bytes(photo.to_vec()).file_name("p.jpg"));
    let reply = client.post(format!("{base}/api/register")).bearer_auth(SECRET).multipart(form).send().await.unwrap();
    assert_eq!(reply.status(), 201, "register {user}");
}

/// One client-key verify: its time and its answer (status and error code), which must not differ.
async fn verify(client: &reqwest::Client, base: &str, user: &str, photo: &[u8]) -> (f64, String) {
    let form = reqwest::multipart::Form::new()
        .text("user_id", user.to_string())
        .part("image", reqwest::multipart::Part::bytes(photo.to_vec()).file_name("p.jpg"));
    let started = Instant::now();
    let reply = client.post(format!("{base}/api/verify")).bearer_auth(CLIENT).multipart(form).send().await.unwrap();
    let status = reply.status();
    let body: serde_json::Value = reply.json().await.unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    (ms, format!("{status} {}", body["error"]["code"]))
}

fn main() {
    let users = env_num("TIMING_USERS", 60);
    let moto = moto();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let relay = rt.block_on(async {
        let endpoint = format!("http://127.0.0.1:{}", moto.1);
        reqwest::Client::new().put(format!("{endpoint}/bench-timing")).send().await.unwrap();
        Relay::slow(moto.1, Duration::from_millis(25)).await
    });
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let data = tempfile::tempdir().unwrap();
    let mut env = s3_env("bench-timing", &endpoint);
    env.extend([("API_KEYS", SECRET), ("CLIENT_API_KEYS", CLIENT), ("REPLAY_WINDOW_SECS", "0")]);
    let service = start_service(data.path(), &env);
    let (reference, stranger) = (read(REFERENCE), read(STRANGER));
    let (known, unknown, answers) = rt.block_on(async {
        let client = client();
        for i in 0..users {
            register(&client, &service.base, &format!("enrolled{i}"), &reference).await;
        }
        // Warm-up on ids of neither set: connections, sessions, the models' first runs.
        for i in 0..5 {
            verify(&client, &service.base, &format!("warmup{i}"), &stranger).await;
        }
        let (mut known, mut unknown, mut answers) = (Vec::new(), Vec::new(), std::collections::BTreeSet::new());
        for i in 0..users {
            let (ms, answer) = verify(&client, &service.base, &format!("enrolled{i}"), &stranger).await;
            known.push(ms);
            answers.insert(answer);
            let (ms, answer) = verify(&client, &service.base, &format!("unknown{i}"), &stranger).await;
            unknown.push(ms);
            answers.insert(answer);
        }
        (known, unknown, answers)
    });
    assert_eq!(answers.len(), 1, "the answers differ: {answers:?}");
    let p90 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.9)
    };
    let (k, u) = (median(known.clone()), median(unknown.clone()));
    println!("client-key verify of a stranger's photo, S3 behind a 25 ms relay, {users} ids each, alternating");
    println!("  answer for both: {}", answers.iter().next().unwrap());
    println!("  enrolled id   p50 {k:>7.1} ms   p90 {:>7.1} ms", p90(&known));
    println!("  unknown id    p50 {u:>7.1} ms   p90 {:>7.1} ms", p90(&unknown));
    println!("  difference of medians {:+.1} ms (enrolled − unknown)", k - u);
}

//! Chaos against a real redis-server: a `FLUSHALL`, a restart without persistence, keys lost to
//! eviction. Decisions made before are not unmade: every single-use thing issued under the lost
//! state is void, revocation and the failure ladder's top are read from the bucket, and each
//! instance says what happened (metric, log line).

use futures::StreamExt;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "backend-secret-key-0123456789";
const CLIENT: &str = "pk_frontend_0123456789";

struct Cluster {
    _moto: Moto,
    redis: Redis,
    apps: Vec<TestApp>,
}

async fn cluster(instances: usize) -> Cluster {
    let (moto, redis) = (Moto::start(), Redis::start());
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    for (k, v) in [
        ("SHARED_STATE_URL", redis.url.as_str()),
        ("SECRET_KEY", "lost-state-test-secret-key-0123456789abcdef"),
        ("API_KEYS", SECRET),
        ("CLIENT_API_KEYS", CLIENT),
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("LOCKOUT_DISABLE_AFTER", "3"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let apps = (0..instances).map(|_| spawn_owned(&env)).collect();
    Cluster { _moto: moto, redis, apps }
}

async fn redis(cluster: &Cluster) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(cluster.redis.url.as_str()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

async fn flushall(cluster: &Cluster) {
    let _: () = redis::cmd("FLUSHALL").query_async(&mut redis(cluster).await).await.unwrap();
}

async fn backend_json(app: &TestApp, path: &str, body: Value) -> Reply {
    app.send(app.client.post(format!("{}{path}", app.base)).bearer_auth(SECRET).json(&body)).await
}

async fn register_as(app: &TestApp, key: &str, form: Form) -> Reply {
    app.post_form_as(key, "/api/register", form).await
}

async fn client_verify(app: &TestApp, from: &str, user: &str, photo: &str, session: Option<&str>) -> Reply {
    let mut form = TestApp::form(user, face(photo));
    if let Some(token) = session {
        form = form.text("session_token", token.to_string());
    }
    let request =
        app.client.post(format!("{}/api/verify", app.base)).bearer_auth(CLIENT).header("X-Forwarded-For", from);
    app.send(request.multipart(form)).await
}

async fn metrics(app: &TestApp) -> String {
    let request = app.client.get(format!("{}/metrics", app.base)).bearer_auth(SECRET);
    request.send().await.unwrap().text().await.unwrap()
}

fn resets(metrics: &str, cause: &str) -> u64 {
    let series = format!("faceauth_shared_state_resets_total{{cause=\"{cause}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&series)).map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn after_a_flushall_no_session_grant_or_consumed_token_works_again_and_the_ladder_holds() {
    let cluster = cluster(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    assert_eq!(register_as(a, SECRET, TestApp::form("angelina", face(ANGELINA_1))).await.status, 201);
    assert_eq!(register_as(a, SECRET, TestApp::form("bob", face(ANISTON))).await.status, 201);

    // Issued under the generation about to be lost: a verify session, an enrolment grant for a
    // user still to be enrolled, and a result already consumed through introspection.
    let session = backend_json(a, "/api/sessions", json!({ "user_id": "angelina", "purpose": "verify" })).await;
    let session = session.body["session_token"].as_str().unwrap().to_string();
    let grant = backend_json(a, "/api/enrollments", json!({ "user_id": "carol" })).await;
    let grant = grant.body["enrollment_token"].as_str().unwrap().to_string();
    let verified = client_verify(a, "198.51.100.1", "angelina", ANGELINA_2, None).await;
    let result = verified.body["token"].as_str().expect("a result token").to_string();
    let consumed = backend_json(a, "/api/tokens/introspect", json!({ "token": result, "consume": true })).await;
    assert_eq!(consumed.body["active"], true, "{:?}", consumed.body);
    // The ladder's top: three failures in a row disable bob.
    for i in 0..3 {
        let reply = client_verify(b, &format!("203.0.113.{i}"), "bob", ANGELINA_4, None).await;
        assert_eq!(reply.body["verified"], false, "{:?}", reply.body);
    }
    assert_eq!(client_verify(a, "198.51.100.2", "bob", ANISTON_2, None).await.code(), "verification_disabled");

    flushall(&cluster).await;

    // The attacker replays each; every one is refused, on both instances.
    let replayed = client_verify(b, "198.51.100.3", "angelina", ANGELINA_4, Some(&session)).await;
    assert_eq!((replayed.status, replayed.code()), (401, "invalid_session"), "{:?}", replayed.body);
    let form = TestApp::form("carol", face(ANISTON)).text("enrollment_token", grant.clone());
    let stranger = register_as(a, CLIENT, form).await;
    assert_eq!((stranger.status, stranger.code()), (401, "invalid_enrollment_token"), "{:?}", stranger.body);
    for app in [a, b] {
        let again = backend_json(app, "/api/tokens/introspect", json!({ "token": result, "consume": true })).await;
        assert_eq!(again.body["active"], false, "{:?}", again.body);
        let owner = client_verify(app, "198.51.100.4", "bob", ANISTON_2, None).await;
        assert_eq!((owner.status, owner.code()), (423, "verification_disabled"), "{:?}", owner.body);
    }
    // What was issued after the loss works, and each instance reported the loss.
    let fresh = backend_json(b, "/api/sessions", json!({ "user_id": "angelina", "purpose": "verify" })).await;
    let fresh = fresh.body["session_token"].as_str().unwrap().to_string();
    let verified = client_verify(a, "198.51.100.5", "angelina", ANGELINA_4, Some(&fresh)).await;
    assert_eq!(verified.body["verified"], true, "{:?}", verified.body);
    for app in [a, b] {
        assert_eq!(resets(&metrics(app).await, "replaced"), 1);
        assert!(app.logs().contains("shared state was lost"), "{}", app.logs());
    }
    // Only a backend lifts the ladder.
    let unlocked = backend_json(a, "/api/users/bob/unlock", json!({})).await;
    assert_eq!(unlocked.status, 200, "{:?}", unlocked.body);
    assert_eq!(client_verify(b, "198.51.100.6", "bob", ANISTON_2, None).await.body["verified"], true);
}

#[tokio::test]
async fn a_redis_restarted_without_persistence_voids_what_it_forgot() {
    let mut cluster = cluster(1).await;
    let app = &cluster.apps[0];
    assert_eq!(register_as(app, SECRET, TestApp::form("angelina", face(ANGELINA_1))).await.status, 201);
    let session = backend_json(app, "/api/sessions", json!({ "user_id": "angelina", "purpose": "verify" })).await;
    let session = session.body["session_token"].as_str().unwrap().to_string();
    cluster.redis.stop();
    cluster.redis.resume();
    let app = &cluster.apps[0];
    // The connection comes back on its own; until it does the answer is 503, never a pass.
    let mut replayed = None;
    for _ in 0..1000 {
        let reply = client_verify(app, "198.51.100.1", "angelina", ANGELINA_2, Some(&session)).await;
        assert_ne!(reply.status, 200, "{:?}", reply.body);
        if reply.status != 503 {
            replayed = Some(reply);
            break;
        }
    }
    let replayed = replayed.expect("the state came back");
    assert_eq!((replayed.status, replayed.code()), (401, "invalid_session"), "{:?}", replayed.body);
}

#[tokio::test]
async fn a_revoked_grant_stays_revoked_when_redis_loses_everything_but_the_generation() {
    // Eviction or a partial restore can drop keys while the generation survives: revocation is
    // read from the bucket, so the grant a delete revoked stays refused.
    let cluster = cluster(1).await;
    let app = &cluster.apps[0];
    assert_eq!(register_as(app, SECRET, TestApp::form("angelina", face(ANGELINA_1))).await.status, 201);
    let grant = backend_json(app, "/api/enrollments", json!({ "user_id": "angelina" })).await;
    let grant = grant.body["enrollment_token"].as_str().unwrap().to_string();
    assert_eq!(app.delete_as(SECRET, "/api/users/angelina").await.status, 200);
    let mut connection = redis(&cluster).await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut connection).await.unwrap();
    for key in keys.iter().filter(|k| !k.contains("generation")) {
        let _: () = redis::cmd("DEL").arg(key).query_async(&mut connection).await.unwrap();
    }
    let form = TestApp::form("angelina", face(ANISTON)).text("enrollment_token", grant);
    let stranger = register_as(app, CLIENT, form).await;
    assert_eq!((stranger.status, stranger.code()), (401, "invalid_enrollment_token"), "{:?}", stranger.body);
    assert_eq!(app.get_as(SECRET, "/api/users/angelina").await.status, 404, "nothing was stored");
}

async fn session(app: &TestApp) -> Reply {
    backend_json(app, "/api/sessions", json!({ "user_id": "angelina", "purpose": "verify" })).await
}

async fn command(url: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut connection).await.unwrap()
}

fn text(value: redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        redis::Value::VerbatimString { text, .. } => text,
        other => format!("{other:?}"),
    }
}

/// A failover: the primary dies and its replica is promoted behind the same address while two
/// instances serve requests. What had replicated is kept (spent stays spent, an unspent session
/// still works), no request during the switch passes with a spent session, and it is not taken for
/// a loss of the shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_promoted_while_requests_run_keeps_what_it_replicated_and_passes_nothing_spent() {
    let (moto, mut primary, replica) = (Moto::start(), Redis::start(), Redis::start());
    command(&replica.url, &["REPLICAOF", "127.0.0.1", &primary.port().to_string()]).await;
    let relay = Relay::start(primary.port()).await;
    let bucket = moto.create_bucket().await;
    let mut env = moto.env(&bucket);
    let url = format!("redis://127.0.0.1:{}", relay.port);
    for (k, v) in [
        ("SHARED_STATE_URL", url.as_str()),
        ("SECRET_KEY", "lost-state-test-secret-key-0123456789abcdef"),
        ("API_KEYS", SECRET),
        ("CLIENT_API_KEYS", CLIENT),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let (a, b) = (spawn_owned(&env), spawn_owned(&env));
    assert_eq!(register_as(&a, SECRET, TestApp::form("angelina", face(ANGELINA_1))).await.status, 201);
    let spent = session(&a).await.body["session_token"].as_str().unwrap().to_string();
    let verified = client_verify(&a, "198.51.100.1", "angelina", ANGELINA_2, Some(&spent)).await;
    assert_eq!(verified.body["verified"], true, "{:?}", verified.body);
    let result = verified.body["token"].as_str().unwrap().to_string();
    // Results are checked by the instance that signed them (no TOKEN_SIGNING_KEY: a key per process).
    let consumed = backend_json(&a, "/api/tokens/introspect", json!({ "token": result, "consume": true })).await;
    assert_eq!(consumed.body["active"], true, "{:?}", consumed.body);
    let unspent = session(&b).await.body["session_token"].as_str().unwrap().to_string();
    // Everything so far on the replica before the primary goes (WAIT: one replica acknowledged).
    // The replica may still be in its first sync: WAIT blocks in the server, 100 ms a try.
    let acknowledged = futures::stream::iter(0..100)
        .then(|_| command(&primary.url, &["WAIT", "1", "100"]))
        .any(|v| futures::future::ready(v == redis::Value::Int(1)))
        .await;
    assert!(acknowledged, "the replica acknowledged every write");

    // The attacker keeps replaying the spent session on both instances while the failover happens.
    let replays = futures::future::join_all((0..12).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let spent = spent.clone();
        async move { client_verify(app, &format!("203.0.113.{i}"), "angelina", ANGELINA_4, Some(&spent)).await }
    }));
    let failover = async {
        primary.stop();
        command(&replica.url, &["REPLICAOF", "NO", "ONE"]).await;
        relay.retarget(replica.port());
    };
    let (replays, ()) = tokio::join!(replays, failover);
    for reply in &replays {
        assert_ne!(reply.status, 200, "a spent session passed during the failover: {:?}", reply.body);
    }
    assert!(text(command(&replica.url, &["INFO", "replication"]).await).contains("role:master"));

    // After it: spent stays spent, consumed stays consumed, the unspent session works once.
    for app in [&a, &b] {
        let mut replay = None;
        // Until the instance has reconnected it answers 503, never a pass.
        for _ in 0..1000 {
            let reply = client_verify(app, "198.51.100.2", "angelina", ANGELINA_4, Some(&spent)).await;
            assert_ne!(reply.status, 200, "{:?}", reply.body);
            if reply.status != 503 {
                replay = Some(reply);
                break;
            }
        }
        let replay = replay.expect("the instance reconnected");
        assert_eq!((replay.status, replay.code()), (401, "invalid_session"), "{:?}", replay.body);
    }
    let again = backend_json(&a, "/api/tokens/introspect", json!({ "token": result, "consume": true })).await;
    assert_eq!(again.body["active"], false, "consumed stays consumed: {:?}", again.body);
    // The unspent session: kept when the replica had every write the instances saw; if a write
    // of the last moments (a refused replay's counters) had not replicated, the instance notices the
    // rollback and voids everything issued before. Either way it is never used twice.
    let fresh = client_verify(&a, "198.51.100.3", "angelina", ANGELINA_4, Some(&unspent)).await;
    let twice = client_verify(&b, "198.51.100.4", "angelina", ANGELINA_4, Some(&unspent)).await;
    assert_eq!((twice.status, twice.code()), (401, "invalid_session"), "{:?}", twice.body);
    let (a_metrics, b_metrics) = (metrics(&a).await, metrics(&b).await);
    let rolled_back = resets(&a_metrics, "rolled_back") + resets(&b_metrics, "rolled_back");
    let replaced = resets(&a_metrics, "replaced") + resets(&b_metrics, "replaced");
    match fresh.body["verified"].as_bool() {
        // The promoted replica held the generation: nothing was reported lost.
        Some(true) => assert_eq!((rolled_back, replaced), (0, 0), "kept, and no loss reported"),
        // One instance saw the tick go back and renewed the generation; the other may learn of the
        // new generation only by finding it changed (reported as `replaced`). A replacement is
        // never reported without a rollback: the replica itself held the generation key.
        _ => {
            assert_eq!((fresh.status, fresh.code()), (401, "invalid_session"), "{:?}", fresh.body);
            assert!(rolled_back >= 1, "voided, and the loss reported");
        }
    }
}

/// The primitive under every single-use decision, against a real redis-server: a decision made
/// under a generation that was flushed away, or after the state went back past what this instance
/// saw, writes nothing and says so; otherwise a token is claimed once and a counter only moves up.
#[tokio::test]
async fn a_single_use_decision_read_under_a_lost_generation_writes_nothing() {
    use faceauth::state::{Policy, RedisState, RedisTarget, SharedState, StateError};
    let redis = Redis::start();
    let policy = Policy {
        lockout_per_client: 5,
        lockout_per_user: 20,
        lockout_window: std::time::Duration::from_secs(60),
        rate_per_ip: 0,
        rate_per_key: 0,
    };
    let target = RedisTarget { url: redis.url.clone(), prefix: "t:".into() };
    let state =
        SharedState::new(RedisState::connect(target, policy, std::time::Duration::from_secs(60)).await.unwrap());
    let ttl = std::time::Duration::from_secs(60);
    let read_under = state.generation().await.unwrap();
    // A flush between the request's check and its write: the claim is not made on the empty state.
    command(&redis.url, &["FLUSHALL"]).await;
    let lost = state.claim_under("session:s1", ttl, &read_under).await;
    assert!(matches!(lost, Err(StateError::Lost)), "{:?}", lost.map(|c| c.is_some()));
    assert_eq!(command(&redis.url, &["EXISTS", "t:once:session:s1"]).await, redis::Value::Int(0), "nothing written");
    let counter = state.advance_under("pk", 7, ttl, &read_under).await;
    assert!(matches!(counter, Err(StateError::Lost)));
    // Under the generation in force: once, and only once.
    let now = state.generation().await.unwrap();
    assert_ne!(now, read_under, "the flush made a new generation");
    state.claim_under("session:s1", ttl, &now).await.unwrap().expect("the first claim").spend();
    assert!(state.claim_under("session:s1", ttl, &now).await.unwrap().is_none(), "the second");
    assert!(state.advance_under("pk", 7, ttl, &now).await.unwrap());
    assert!(!state.advance_under("pk", 7, ttl, &now).await.unwrap(), "the same counter twice");
    assert!(!state.advance_under("pk", 6, ttl, &now).await.unwrap(), "a counter going back");
    assert!(state.advance_under("pk", 8, ttl, &now).await.unwrap());
    // The generation survives but the state went back (a lagging replica, a snapshot restored):
    // the tick is below what this instance saw, and nothing is decided.
    command(&redis.url, &["SET", "t:generation:tick", "1"]).await;
    command(&redis.url, &["DEL", "t:once:session:s1"]).await;
    let rolled_back = state.claim_under("session:s1", ttl, &now).await;
    assert!(matches!(rolled_back, Err(StateError::Lost)), "{:?}", rolled_back.map(|c| c.is_some()));
    assert_eq!(command(&redis.url, &["EXISTS", "t:once:session:s1"]).await, redis::Value::Int(0));
}

/// Flushes *during* concurrent replays of a spent session and a consumed token, on two instances:
/// a request that checked the token before the flush and writes after it is refused, never
/// re-admitted (503 while it cannot tell, 401 / inactive after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_during_concurrent_replays_re_admit_nothing() {
    let cluster = cluster(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    assert_eq!(register_as(a, SECRET, TestApp::form("angelina", face(ANGELINA_1))).await.status, 201);
    let mut readmitted = Vec::new();
    for round in 0..8 {
        let spent = session(a).await.body["session_token"].as_str().unwrap().to_string();
        let from = format!("198.51.{round}.1");
        let verified = client_verify(a, &from, "angelina", ANGELINA_2, Some(&spent)).await;
        let Some(result) = verified.body["token"].as_str().map(str::to_string) else {
            panic!("round {round}: {:?}", verified.body)
        };
        // Results are checked by the instance that signed them (no TOKEN_SIGNING_KEY: a key per process).
        let consumed = backend_json(a, "/api/tokens/introspect", json!({ "token": result, "consume": true })).await;
        assert_eq!(consumed.body["active"], true, "{:?}", consumed.body);
        let replays = futures::future::join_all((0..8).map(|i| {
            let (app, spent, result) = (if i % 2 == 0 { a } else { b }, spent.clone(), result.clone());
            async move {
                let from = format!("203.0.{round}.{i}");
                let session = client_verify(app, &from, "angelina", ANGELINA_4, Some(&spent));
                let token = backend_json(a, "/api/tokens/introspect", json!({ "token": result, "consume": true }));
                let (session, token) = tokio::join!(session, token);
                (session, token)
            }
        }));
        let (replays, ()) = tokio::join!(replays, flushall(&cluster));
        for (session, token) in replays {
            if session.status == 200 || token.body["active"] == true {
                readmitted.push((round, session.body, token.body));
            }
        }
    }
    assert!(readmitted.is_empty(), "re-admitted after a flush: {readmitted:?}");
}

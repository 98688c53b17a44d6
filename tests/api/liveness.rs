//! Passive liveness through the API: a replayed tablet photo is refused, a photo of a face passes.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn with_passive_liveness_a_screen_replay_is_refused_and_counts_as_a_failure() {
    let app = spawn(&[("LIVENESS", "passive"), ("LOCKOUT_MAX_FAILURES", "2")]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let live = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(live.status, 200, "{:?}", live.body);
    assert_eq!(
        (live.body["liveness"]["method"].clone(), live.body["liveness"]["passed"].clone()),
        (json!("passive"), json!(true))
    );
    assert!(live.body["liveness"]["score"].as_f64().unwrap() >= 0.5);

    // The upstream sample of a photo shown on a tablet (of someone else: liveness is judged first).
    for _ in 0..2 {
        let replay = app.verify("angelina", "liveness/image_F2.jpg").await;
        assert_eq!((replay.status, replay.code()), (422, "liveness_failed"), "{:?}", replay.body);
    }
    let locked = app.verify("angelina", ANGELINA_2).await;
    assert_eq!((locked.status, locked.code()), (429, "too_many_attempts"), "spoofs are failed attempts");
}

#[tokio::test]
async fn without_liveness_every_verify_says_so() {
    let app = spawn(&[]);
    assert_eq!(app.register("angelina", ANGELINA_1).await.status, 201);
    let reply = app.verify("angelina", ANGELINA_2).await;
    assert_eq!(reply.body["liveness"], json!({ "method": "off" }));
}

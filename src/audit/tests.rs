use super::*;
use crate::store::local::LocalStore;

fn event<'a>(kind: &'static str, user: &'a UserId) -> Event<'a> {
    Event { kind, user, actor: Actor::Service("test"), outcome: Ok(()), detail: None }
}

fn objects(root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn each_flush_writes_one_new_object_of_the_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let trail = AuditTrail::durable(Arc::new(LocalStore::new(dir.path())), "audit/", 100);
    let alice = UserId::parse("alice").unwrap();
    trail.record(event("register", &alice));
    trail.record(Event { detail: Some("no_match"), ..event("verify", &alice) });
    assert_eq!(trail.flush().await.unwrap(), 2);
    assert_eq!(trail.flush().await.unwrap(), 0, "nothing new: no empty object");
    trail.record(event("delete", &alice));
    assert_eq!(trail.flush().await.unwrap(), 1);

    let written = objects(&dir.path().join("audit"));
    assert_eq!(written.len(), 2, "one object per flush, the first left as it was: {written:?}");
    let records: Vec<serde_json::Value> =
        written.iter().flat_map(|(_, text)| text.lines().map(|l| serde_json::from_str(l).unwrap())).collect();
    let events: Vec<&str> = records.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["register", "verify", "delete"]);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2], "contiguous: a gap would show");
    assert_eq!(records[1]["detail"], "no_match");
    assert!(records.iter().all(|r| r["instance"] == trail.instance() && r["user_id"] == "alice"));
}

#[tokio::test]
async fn records_that_cannot_be_written_are_kept_and_a_full_buffer_refuses_until_they_are() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the audit folder should be: every write fails, even for root.
    std::fs::write(dir.path().join("audit"), b"in the way").unwrap();
    let trail = AuditTrail::durable(Arc::new(LocalStore::new(dir.path())), "audit/", 3);
    let alice = UserId::parse("alice").unwrap();
    for kind in ["register", "verify"] {
        trail.admit().unwrap();
        trail.record(event(kind, &alice));
    }
    assert!(trail.flush().await.is_err());
    let status = trail.status().unwrap();
    assert!(status.failing.is_some() && !status.full && status.buffered == 2, "{status:?}");
    trail.record(event("delete", &alice));
    assert!(trail.admit().is_err(), "full: refused rather than unrecorded");
    assert!(trail.status().unwrap().full);

    std::fs::remove_file(dir.path().join("audit")).unwrap();
    assert_eq!(trail.flush().await.unwrap(), 3, "the failed batch as it was, then the rest");
    trail.admit().unwrap();
    assert_eq!(trail.status().unwrap(), AuditStatus { buffered: 0, failing: None, full: false });
    let lines: usize = objects(&dir.path().join("audit")).iter().map(|(_, t)| t.lines().count()).sum();
    assert_eq!(lines, 3);
}

//! The reference format on a real (local) object store.

use std::time::Duration;

use super::*;
use crate::store::local::LocalStore;

fn new_reference(model: &str) -> NewReference {
    NewReference {
        embedding: vec![0.6, 0.8],
        model: ModelStamp { name: model.into(), sha256: "aa".into() },
        detector: ModelStamp { name: "d".into(), sha256: "bb".into() },
        face: FaceRecord { bbox: [0.0; 4], score: 0.9, landmarks: [[0.0; 2]; 5] },
        consent: None,
    }
}

fn local() -> (tempfile::TempDir, ReferenceStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ReferenceStore::new(Arc::new(LocalStore::new(dir.path())), "p/");
    (dir, store)
}

#[tokio::test]
async fn half_written_references_are_invisible_and_swept() {
    let (_dir, store) = local();
    let user = UserId::parse("alice").unwrap();
    let id =
        store.save(&user, Bytes::from_static(b"jpeg"), "image/jpeg", new_reference("m"), Placement::Add).await.unwrap();
    let done = store.load(&user).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].reference_id(), id);
    // A register that died after the photo and before the sidecar (an id from long ago):
    let orphan = "p/users/alice/0000000000001-dead.jpg".to_string();
    store.objects.put(&orphan, Bytes::from_static(b"jpeg"), "image/jpeg").await.unwrap();
    assert_eq!(store.load(&user).await.unwrap(), done);
    // A register still in flight (its id is from now) is not mistaken for a dead one.
    let fresh = format!("p/users/alice/{}.jpg", new_reference_id());
    store.objects.put(&fresh, Bytes::from_static(b"jpeg"), "image/jpeg").await.unwrap();
    let listing = store.list_user(&user, Duration::from_secs(600)).await.unwrap();
    assert_eq!(listing.references, 1);
    assert_eq!(listing.orphans, vec![orphan.clone()]);
    assert_eq!(store.remove_orphans(&listing).await.unwrap(), 1);
    assert!(store.objects.get(&fresh).await.unwrap().is_some());
    assert!(store.objects.get(&orphan).await.unwrap().is_none());
    assert!(store.photo(&done[0]).await.unwrap().is_some());
    assert_eq!(store.users().await.unwrap(), vec![user.clone()]);
    assert_eq!(store.delete_user(&user).await.unwrap(), 3);
    assert!(store.load(&user).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rewrite_keeps_the_reference_and_never_resurrects_a_deleted_one() {
    let (_dir, store) = local();
    let user = UserId::parse("bob").unwrap();
    store.save(&user, Bytes::from_static(b"jpeg"), "image/jpeg", new_reference("old"), Placement::Add).await.unwrap();
    let old = store.load(&user).await.unwrap().remove(0);
    let new = store.replace_embedding(&user, &old, new_reference("new")).await.unwrap();
    assert_eq!((new.reference_id(), new.model().name.as_str()), (old.reference_id(), "new"));
    assert_eq!(store.load(&user).await.unwrap(), vec![new.clone()]);

    store.delete_user(&user).await.unwrap();
    assert!(store.replace_embedding(&user, &new, new_reference("newer")).await.is_err());
    assert!(store.load(&user).await.unwrap().is_empty(), "the deleted user stays deleted");
}

#[tokio::test]
async fn a_replace_supersedes_every_earlier_reference_at_once() {
    let (_dir, store) = local();
    let user = UserId::parse("carol").unwrap();
    for _ in 0..2 {
        store.save(&user, Bytes::from_static(b"old"), "image/jpeg", new_reference("m"), Placement::Add).await.unwrap();
    }
    let new_id = store
        .save(&user, Bytes::from_static(b"new"), "image/png", new_reference("m"), Placement::ReplaceAll)
        .await
        .unwrap();
    let loaded = store.load(&user).await.unwrap();
    assert_eq!(loaded.iter().map(|r| r.reference_id()).collect::<Vec<_>>(), vec![new_id.as_str()]);
    assert_eq!(loaded[0].photo_sha256(), Some(photo_digest(b"new").as_str()));
    assert_eq!(store.objects.list("p/users/carol/").await.unwrap().len(), 2, "old photos and sidecars removed");

    // Even when the old objects are still there (a delete failed), readers never see them again.
    let stale = NewReference { ..new_reference("m") };
    let stale_id = "0000000000001-stale";
    let sidecar = Sidecar {
        version: SIDECAR_VERSION,
        reference_id: stale_id.into(),
        user_id: "carol".into(),
        image_key: format!("p/users/carol/{stale_id}.jpg"),
        content_type: "image/jpeg".into(),
        embedding: stale.embedding,
        model: stale.model,
        detector: stale.detector,
        face: stale.face,
        created_at: String::new(),
        photo_sha256: None,
        replaces_earlier: false,
        consent: None,
    };
    store
        .objects
        .put(&format!("p/users/carol/{stale_id}.json"), to_json(&sidecar).unwrap(), "application/json")
        .await
        .unwrap();
    assert_eq!(store.load(&user).await.unwrap().len(), 1);
}

/// Every file under `dir`, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn plaintext_references_stay_readable_once_a_key_is_set_and_are_then_sealed_in_place() {
    use crate::store::sealed::{Sealer, test_keys::PadKeys};
    let (dir, plain) = local();
    let user = UserId::parse("alice").unwrap();
    let photo = Bytes::from_static(b"\xff\xd8\xff\xe0 jpeg body");
    plain.save(&user, photo.clone(), "image/jpeg", new_reference("m"), Placement::Add).await.unwrap();

    let keys = Arc::new(Sealer::new(Arc::new(PadKeys::default()), Duration::from_secs(60)));
    let sealed = plain.clone().with_sealer(keys.clone(), Plaintext::Accept);
    let before = sealed.load(&user).await.unwrap();
    assert_eq!(before.len(), 1, "plaintext written before the key is still used");
    assert_eq!(sealed.seal_in_place(&user).await.unwrap(), SealReport { sealed: 1, already: 0 });
    assert_eq!(sealed.seal_in_place(&user).await.unwrap(), SealReport { sealed: 0, already: 1 }, "idempotent");
    // New references are sealed as they are written.
    sealed.save(&user, photo.clone(), "image/jpeg", new_reference("m"), Placement::Add).await.unwrap();
    for (path, bytes) in files(dir.path()) {
        assert!(!bytes.windows(3).any(|w| w == b"\xff\xd8\xff"), "{path} shows a JPEG marker");
        assert!(!bytes.windows(9).any(|w| w == b"embedding"), "{path} shows a sidecar");
    }
    let after = sealed.load(&user).await.unwrap();
    assert_eq!(after[0], before[0]);
    assert_eq!(sealed.photo(&after[1]).await.unwrap().unwrap(), photo);
    // Without the key, sealed references are refused (not mistaken for missing ones).
    assert!(matches!(plain.load(&user).await, Err(StoreError::Denied(_))));

    // A sealed sidecar copied into another user's folder does not open there.
    let mallory = UserId::parse("mallory").unwrap();
    let from = dir.path().join(format!("p/users/alice/{}.json", after[0].reference_id()));
    let to = dir.path().join(format!("p/users/mallory/{}.json", after[0].reference_id()));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
    assert!(sealed.load(&mallory).await.unwrap().is_empty());

    // Once everything is sealed, plaintext can be refused: a planted plaintext reference is unused.
    let strict = plain.clone().with_sealer(keys, Plaintext::Refuse);
    plain.save(&user, photo.clone(), "image/jpeg", new_reference("planted"), Placement::Add).await.unwrap();
    assert_eq!(sealed.load(&user).await.unwrap().len(), 3, "accepted while migrating");
    let used = strict.load(&user).await.unwrap();
    assert_eq!(used.len(), 2, "the planted plaintext one is ignored");
    assert!(used.iter().all(|r| r.model().name == "m"));
    // Nor is it sealed by a migration run while refusing: that would launder it.
    assert_eq!(strict.seal_in_place(&user).await.unwrap(), SealReport::default());
    assert_eq!(strict.load(&user).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_sidecar_whose_photo_lies_outside_its_folder_is_not_loaded() {
    // A crafted sidecar for eve naming dave's photo: an export or a re-embed of eve would read it.
    let (_dir, store) = local();
    let (dave, eve) = (UserId::parse("dave").unwrap(), UserId::parse("eve").unwrap());
    store
        .save(&dave, Bytes::from_static(b"dave's photo"), "image/jpeg", new_reference("m"), Placement::Add)
        .await
        .unwrap();
    store
        .save(&eve, Bytes::from_static(b"eve's photo"), "image/jpeg", new_reference("m"), Placement::Add)
        .await
        .unwrap();
    let daves = store.load(&dave).await.unwrap().remove(0);
    let mut crafted = store.load(&eve).await.unwrap().remove(0).0;
    let key = store.sidecar_key(&eve, &crafted.reference_id);
    for image_key in [daves.photo_key().0.to_string(), format!("p/users/eve/../dave/{}.jpg", daves.reference_id())] {
        crafted.image_key = image_key.clone();
        store.objects.put(&key, to_json(&crafted).unwrap(), "application/json").await.unwrap();
        assert!(store.load(&eve).await.unwrap().is_empty(), "{image_key}");
    }
}

#[tokio::test]
async fn a_use_recorded_after_the_delete_does_not_bring_the_user_back() {
    let (_dir, store) = local();
    let user = UserId::parse("frank").unwrap();
    store.save(&user, Bytes::from_static(b"jpeg"), "image/jpeg", new_reference("m"), Placement::Add).await.unwrap();
    store.record_use(&user, 1).await.unwrap();
    store.delete_user(&user).await.unwrap();
    // A verify that finished just before the delete records its use just after it.
    store.record_use(&user, 2).await.unwrap();
    assert_eq!(store.last_used(&user).await.unwrap(), None);
    assert!(store.objects.list("p/").await.unwrap().iter().all(|k| !k.contains("frank")));
}

use std::sync::atomic::Ordering;

use super::test_keys::PadKeys;
use super::*;

fn sealer(ttl: Duration) -> (Arc<PadKeys>, Sealer) {
    let keys = Arc::new(PadKeys::default());
    (keys.clone(), Sealer::new(keys, ttl))
}

const ALICE_PHOTO: Context = Context { user: "alice", reference_id: "r1", kind: ObjectKind::Photo };

#[tokio::test]
async fn sealed_objects_open_to_what_was_sealed_and_show_none_of_it() {
    let (_, sealer) = sealer(Duration::from_secs(60));
    let photo = b"\xff\xd8\xff\xe0 a JPEG's first bytes and more".to_vec();
    let sealed = sealer.seal(ALICE_PHOTO, &photo).await.unwrap();
    assert!(is_sealed(&sealed) && !is_sealed(&photo));
    assert!(!sealed.windows(3).any(|w| w == b"\xff\xd8\xff"), "no JPEG marker in the sealed bytes");
    assert_eq!(sealer.open(ALICE_PHOTO, &sealed).await.unwrap(), photo);
    // Two seals of the same bytes differ (fresh nonces).
    assert_ne!(sealer.seal(ALICE_PHOTO, &photo).await.unwrap(), sealed);
}

#[tokio::test]
async fn an_object_moved_to_another_user_or_kind_or_tampered_with_does_not_open() {
    let (_, sealer) = sealer(Duration::from_secs(60));
    let sealed = sealer.seal(ALICE_PHOTO, b"alice's photo").await.unwrap();
    for other in [
        Context { user: "mallory", ..ALICE_PHOTO },
        Context { kind: ObjectKind::Sidecar, ..ALICE_PHOTO },
        Context { reference_id: "r2", ..ALICE_PHOTO },
    ] {
        assert!(matches!(sealer.open(other, &sealed).await, Err(StoreError::Corrupt(_))), "{other:?}");
    }
    let mut tampered = sealed.to_vec();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(sealer.open(ALICE_PHOTO, &tampered).await, Err(StoreError::Corrupt(_))));
    for cut in [3, 6, sealed.len() - 1] {
        assert!(matches!(sealer.open(ALICE_PHOTO, &sealed[..cut]).await, Err(StoreError::Corrupt(_))), "{cut}");
    }
}

#[tokio::test]
async fn data_keys_are_reused_for_the_cache_period_and_not_without_one() {
    let (keys, cached) = sealer(Duration::from_secs(60));
    let a = cached.seal(ALICE_PHOTO, b"a").await.unwrap();
    let b = cached.seal(ALICE_PHOTO, b"b").await.unwrap();
    cached.open(ALICE_PHOTO, &a).await.unwrap();
    cached.open(ALICE_PHOTO, &b).await.unwrap();
    assert_eq!((keys.generated.load(Ordering::SeqCst), keys.unwrapped.load(Ordering::SeqCst)), (1, 1));

    let (keys, uncached) = sealer(Duration::ZERO);
    let a = uncached.seal(ALICE_PHOTO, b"a").await.unwrap();
    uncached.seal(ALICE_PHOTO, b"b").await.unwrap();
    uncached.open(ALICE_PHOTO, &a).await.unwrap();
    uncached.open(ALICE_PHOTO, &a).await.unwrap();
    assert_eq!((keys.generated.load(Ordering::SeqCst), keys.unwrapped.load(Ordering::SeqCst)), (2, 2));
}

#[tokio::test]
async fn key_service_outages_are_unavailable_not_corrupt() {
    let (keys, sealer) = sealer(Duration::ZERO);
    let sealed = sealer.seal(ALICE_PHOTO, b"x").await.unwrap();
    keys.down.store(true, Ordering::SeqCst);
    assert!(matches!(sealer.seal(ALICE_PHOTO, b"x").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(sealer.open(ALICE_PHOTO, &sealed).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(sealer.check().await, Err(StoreError::Unavailable(_))));
    keys.down.store(false, Ordering::SeqCst);
    sealer.check().await.unwrap();
}

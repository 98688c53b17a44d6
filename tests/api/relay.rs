//! A TCP relay for chaos tests and benchmarks (shared by `tests/api` and `benches/`): a distant or
//! failing dependency on loopback.

use std::sync::Arc;
use std::time::Duration;

/// A TCP relay to a loopback port that the test can cut (every connection, pooled ones included,
/// is dropped and new ones are closed at once), restore, or point elsewhere (a failover: a promoted
/// replica behind the same address), optionally slow: each chunk is held `delay` in each
/// direction, as a distant S3 would.
pub struct Relay {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    target: Arc<std::sync::atomic::AtomicU16>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    pub async fn start(target: u16) -> Self {
        Self::slow(target, Duration::ZERO).await
    }

    pub async fn slow(target: u16, delay: Duration) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let target = Arc::new(AtomicU16::new(target));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts, to) = (up.clone(), cut.clone(), target.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the caller sees the connection closed
                }
                let mut cut = cuts.subscribe();
                let target = to.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                    let (inbound_read, inbound_write) = inbound.into_split();
                    let (outbound_read, outbound_write) = outbound.into_split();
                    tokio::select! {
                        _ = pipe(inbound_read, outbound_write, delay) => {}
                        _ = pipe(outbound_read, inbound_write, delay) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay { port, up, target, cut }
    }

    /// From now on to `port`; every open connection is dropped, as a failover drops them.
    pub fn retarget(&self, port: u16) {
        self.target.store(port, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        to.write_all(&buffer[..n]).await?;
    }
}

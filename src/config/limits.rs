//! Abuse limits: request rates and the verification lockout.

use std::time::Duration;

use ipnet::IpNet;

use super::env::{Parser, Var};
use crate::state::RedisTarget;

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// RATE_LIMIT_PER_IP: requests per minute per client IP; 0 disables.
    pub rate_per_ip: u32,
    /// RATE_LIMIT_PER_KEY: requests per minute per API key; 0 disables.
    pub rate_per_key: u32,
    /// TRUSTED_PROXIES: addresses or CIDR ranges (IPv4 and IPv6) of the proxies whose
    /// X-Forwarded-For is believed: the local nginx, an ALB's subnets.
    pub trusted_proxies: Vec<IpNet>,
    /// LOCKOUT_MAX_FAILURES: failed verifications of one user from one client address within the
    /// window; 0 disables.
    pub lockout_max_failures: usize,
    /// LOCKOUT_USER_MAX_FAILURES: failed verifications of one user from all addresses together; 0 disables.
    pub lockout_user_max_failures: usize,
    /// MAX_CONCURRENT_UPLOADS: register/verify requests received at once; beyond, 503 before the body.
    pub max_concurrent_uploads: usize,
    /// SHARED_STATE_URL (`redis://` or `rediss://`) and SHARED_STATE_PREFIX: where lockouts, rates,
    /// single-use tokens and users' versions are shared between instances; none keeps them in process.
    pub shared_state: Option<RedisTarget>,
    /// LOCKOUT_WINDOW_SECS.
    pub lockout_window: Duration,
    /// LOCKOUT_DISABLE_AFTER: consecutive failed verifications of one user (any client) after
    /// which verification is disabled until a backend unlocks it; `None`: the NIST SP 800-63B-4
    /// default, 50 (100 with liveness on); `Some(0)`: off.
    pub lockout_disable_after: Option<u64>,
}

impl LimitsConfig {
    pub(super) fn parse(p: &mut Parser) -> Self {
        let mut trusted_proxies = Vec::new();
        for item in p.list(Var::TrustedProxies) {
            // A bare address is its own /32 or /128.
            match item.parse::<IpNet>().or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from)) {
                Ok(net) => trusted_proxies.push(net),
                Err(_) => p.problem(format!(
                    "TRUSTED_PROXIES entry {item} is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/16, \
                     fd00::/8)"
                )),
            }
        }
        let shared_state = p.get(Var::SharedStateUrl).map(|url| {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                p.problem(
                    "SHARED_STATE_URL is not valid: use redis://[user:password@]host:port[/db], or rediss:// for TLS \
                     (ElastiCache with in-transit encryption)",
                );
            }
            RedisTarget { url: url.to_string(), prefix: p.string(Var::SharedStatePrefix, "faceauth:") }
        });
        Self {
            shared_state,
            rate_per_ip: p.ranged(Var::RateLimitPerIp, 300u32, 0, 1_000_000),
            rate_per_key: p.ranged(Var::RateLimitPerKey, 3000u32, 0, 1_000_000),
            trusted_proxies,
            lockout_max_failures: p.ranged(Var::LockoutMaxFailures, 5usize, 0, 1000),
            lockout_user_max_failures: p.ranged(Var::LockoutUserMaxFailures, 20usize, 0, 100_000),
            max_concurrent_uploads: p.ranged(Var::MaxConcurrentUploads, 32usize, 1, 100_000),
            lockout_window: p.secs(Var::LockoutWindowSecs, 300, 86_400),
            lockout_disable_after: p
                .get(Var::LockoutDisableAfter)
                .map(|_| p.ranged(Var::LockoutDisableAfter, 50u64, 0, 1_000_000)),
        }
    }
}

//! The Redis-protocol backend (Redis, Valkey, Amazon ElastiCache), through the `redis` crate's
//! connection manager, which reconnects by itself when the server comes back.
//!
//! Every key is under the configured prefix and has a TTL, so nothing grows without bound (the two
//! generation keys excepted: one each). Every operation is one atomic command, MULTI/EXEC, or a Lua
//! script reading the server's clock (so the instances' clocks need not agree).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::backend::{AttemptKey, Decided, Decision, Policy, RateKind, StateBackend, StateError};
use crate::domain::UserId;

/// Lockout: drop expired entries, refuse if this client or everyone is at the limit (returning
/// {wait ms, 0}), else record the attempt in both sets and return {0, failures still allowed}
/// (-1: no limit). KEYS: per-client set, per-user set. ARGV: window ms, per-client max, per-user
/// max, attempt id.
const BEGIN_ATTEMPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limits = { { KEYS[1], tonumber(ARGV[2]) }, { KEYS[2], tonumber(ARGV[3]) } }
for _, limit in ipairs(limits) do
  redis.call('ZREMRANGEBYSCORE', limit[1], '-inf', now - window)
end
for _, limit in ipairs(limits) do
  if limit[2] > 0 and redis.call('ZCARD', limit[1]) >= limit[2] then
    local oldest = redis.call('ZRANGE', limit[1], 0, 0, 'WITHSCORES')
    return { math.max(tonumber(oldest[2]) + window - now, 1000), 0 }
  end
end
local left = -1
for _, limit in ipairs(limits) do
  redis.call('ZADD', limit[1], now, ARGV[4])
  redis.call('PEXPIRE', limit[1], window)
  if limit[2] > 0 then
    local remaining = limit[2] - redis.call('ZCARD', limit[1])
    if left < 0 or remaining < left then left = remaining end
  end
end
return { 0, left }
";

/// GCRA (the generic cell rate algorithm, as `governor` does in process): the key holds the
/// theoretical arrival time in ms. KEYS: the rate key. ARGV: emission interval ms, burst.
/// Returns 0 when allowed, else the wait in ms.
const CHECK_RATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - burst * interval
if now < allowed_at then
  return allowed_at - now
end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
";

/// Replay memory: a sorted set of digests scored by when each is forgotten. KEYS: the user's set.
/// ARGV: window ms (0: only look), cap, digests... Returns 1 when any digest was already there.
const PHOTOS_SEEN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local seen = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then seen = 1 end
end
if window > 0 then
  for i = 3, #ARGV do
    redis.call('ZADD', KEYS[1], now + window, ARGV[i])
  end
  local extra = redis.call('ZCARD', KEYS[1]) - cap
  if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
  redis.call('PEXPIRE', KEYS[1], window)
end
return seen
";

/// A record kept if there is one, else stored. KEYS: the record. ARGV: value, ttl ms.
const KEEP_RECORD: &str = r"
local kept = redis.call('GET', KEYS[1])
if kept then return kept end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
";

/// Where the shared state lives, as configured.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    /// `redis://` or `rediss://` (TLS), credentials in the URL.
    pub url: String,
    /// Namespace for every key, e.g. `faceauth:`.
    pub prefix: String,
}

impl RedisTarget {
    /// The URL without its credentials, for logs.
    pub fn describe(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("redis", &self.url));
        let host = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
        format!("{scheme}://{host} (keys under '{}')", self.prefix)
    }
}

pub struct RedisState {
    connection: ConnectionManager,
    target: RedisTarget,
    policy: Policy,
    /// How long a user's version outlives its last change: longer than any cached entry lives.
    version_ttl: Duration,
    begin_attempt: Script,
    check_rate: Script,
    photos_seen: Script,
    keep_record: Script,
    look_generation: Script,
    renew_generation: Script,
    decide: Script,
}

fn unavailable(e: redis::RedisError) -> StateError {
    StateError::Unavailable(e)
}

fn millis(d: Duration) -> u64 {
    d.as_millis().clamp(1, u64::MAX as u128) as u64
}

impl RedisState {
    /// Connects (bounded by short timeouts: an unreachable server must answer 503 quickly, not hold
    /// requests) and returns the backend; [`StateBackend::probe`] proves it works.
    pub async fn connect(target: RedisTarget, policy: Policy, version_ttl: Duration) -> Result<Self, StateError> {
        let client = redis::Client::open(target.url.as_str()).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let connection = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        Ok(Self {
            connection,
            target,
            policy,
            version_ttl,
            begin_attempt: Script::new(BEGIN_ATTEMPT),
            check_rate: Script::new(CHECK_RATE),
            photos_seen: Script::new(PHOTOS_SEEN),
            keep_record: Script::new(KEEP_RECORD),
            look_generation: Script::new(super::generation::LOOK),
            renew_generation: Script::new(super::generation::RENEW),
            decide: Script::new(super::generation::DECIDE),
        })
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.target.prefix)
    }

    fn attempt_keys(&self, key: &AttemptKey) -> (String, String) {
        (
            self.key(&format!("lockout:client:{}:{}", key.user, key.client)),
            self.key(&format!("lockout:user:{}", key.user)),
        )
    }

    /// Work a drop guard cannot wait for: done on the runtime in the background.
    fn in_background(&self, work: impl FnOnce(ConnectionManager) -> redis::Pipeline) {
        let pipeline = work(self.connection.clone());
        let mut connection = self.connection.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = pipeline.query_async::<()>(&mut connection).await {
                    tracing::warn!(error = %e, "shared state: a background update failed (its key expires anyway)");
                }
            });
        }
    }
}

#[async_trait]
impl StateBackend for RedisState {
    async fn begin_attempt(&self, key: &AttemptKey) -> Result<Result<Option<u32>, Duration>, StateError> {
        let (client, user) = self.attempt_keys(key);
        let (wait_ms, left): (u64, i64) = self
            .begin_attempt
            .key(client)
            .key(user)
            .arg(millis(self.policy.lockout_window))
            .arg(self.policy.lockout_per_client)
            .arg(self.policy.lockout_per_user)
            .arg(&key.id)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(if wait_ms == 0 { Ok(u32::try_from(left).ok()) } else { Err(Duration::from_millis(wait_ms)) })
    }

    async fn settle_attempt(&self, key: &AttemptKey, matched: bool) -> Result<(), StateError> {
        if !matched {
            return Ok(());
        }
        let (client, user) = self.attempt_keys(key);
        redis::pipe()
            .atomic()
            .del(client)
            .ignore()
            .zrem(user, &key.id)
            .ignore()
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(unavailable)
    }

    fn withdraw_attempt(&self, key: AttemptKey) {
        let (client, user) = self.attempt_keys(&key);
        self.in_background(|_| {
            let mut pipeline = redis::pipe();
            pipeline.atomic().zrem(client, &key.id).ignore().zrem(user, &key.id).ignore();
            pipeline
        });
    }

    async fn check_rate(&self, kind: RateKind, who: &str) -> Result<Result<(), Duration>, StateError> {
        let (per_minute, name) = match kind {
            RateKind::Ip => (self.policy.rate_per_ip, "ip"),
            RateKind::Key => (self.policy.rate_per_key, "key"),
        };
        if per_minute == 0 {
            return Ok(Ok(()));
        }
        let interval_ms = (60_000 / u64::from(per_minute)).max(1);
        let key = self.key(&format!("rate:{name}:{who}"));
        let wait_ms: u64 = self
            .check_rate
            .key(key)
            .arg(interval_ms)
            .arg(super::local::burst(per_minute))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(if wait_ms == 0 { Ok(()) } else { Err(Duration::from_millis(wait_ms)) })
    }

    async fn claim_once(&self, token_id: &str, ttl: Duration) -> Result<bool, StateError> {
        let key = self.key(&format!("once:{token_id}"));
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    fn release_once(&self, token_id: String) {
        let key = self.key(&format!("once:{token_id}"));
        self.in_background(|_| {
            let mut pipeline = redis::pipe();
            pipeline.del(key).ignore();
            pipeline
        });
    }

    async fn decide(&self, decision: Decision<'_>, generation: &str, seen_tick: u64) -> Result<Decided, StateError> {
        let (key, ttl, mode, value) = match decision {
            Decision::Claim { id, ttl } => (self.key(&format!("once:{id}")), ttl, "claim", 0),
            Decision::Advance { id, value, ttl } => (self.key(&format!("counter:{id}")), ttl, "advance", value),
        };
        let mut invocation = self.decide.prepare_invoke();
        invocation.key(key).key(self.key("generation")).key(self.key("generation:tick"));
        invocation.arg(generation).arg(seen_tick).arg(millis(ttl)).arg(mode).arg(value);
        let (outcome, tick): (u8, u64) =
            invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)?;
        Ok(match outcome {
            0 => Decided::Made { tick },
            1 => Decided::Refused,
            _ => Decided::Lost,
        })
    }

    async fn user_version(&self, user: &UserId) -> Result<Option<String>, StateError> {
        let key = self.key(&format!("version:{user}"));
        self.connection.clone().get(key).await.map_err(unavailable)
    }

    /// A fresh random value, not a counter: a counter that expired and restarted could repeat a
    /// value some instance still has cached.
    async fn bump_user_version(&self, user: &UserId) -> Result<(), StateError> {
        let version = uuid::Uuid::new_v4().simple().to_string();
        let key = self.key(&format!("version:{user}"));
        self.connection.clone().pset_ex(key, version, millis(self.version_ttl)).await.map_err(unavailable)
    }

    async fn put_record(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StateError> {
        let key = self.key(&format!("record:{key}"));
        self.connection.clone().pset_ex(key, value, millis(ttl)).await.map_err(unavailable)
    }

    async fn get_record(&self, key: &str) -> Result<Option<String>, StateError> {
        let key = self.key(&format!("record:{key}"));
        self.connection.clone().get(key).await.map_err(unavailable)
    }

    async fn keep_record(&self, key: &str, value: &str, ttl: Duration) -> Result<String, StateError> {
        let mut invocation = self.keep_record.key(self.key(&format!("record:{key}")));
        invocation.arg(value).arg(millis(ttl));
        invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)
    }

    async fn drop_record(&self, key: &str) -> Result<(), StateError> {
        let key = self.key(&format!("record:{key}"));
        self.connection.clone().del(key).await.map_err(unavailable)
    }

    async fn remembered(&self, user: &UserId) -> Result<Vec<String>, StateError> {
        let key = self.key(&format!("photos:{user}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.connection.clone().zrangebyscore(key, now, "+inf").await.map_err(unavailable)
    }

    async fn photos_seen(
        &self,
        user: &UserId,
        digests: &[String],
        remember: Option<(Duration, usize)>,
    ) -> Result<bool, StateError> {
        if digests.is_empty() {
            return Ok(false);
        }
        let (window, cap) = remember.map(|(w, c)| (millis(w), c)).unwrap_or((0, 0));
        let mut invocation = self.photos_seen.key(self.key(&format!("photos:{user}")));
        invocation.arg(window).arg(cap);
        for digest in digests {
            invocation.arg(digest);
        }
        let seen: u8 = invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)?;
        Ok(seen == 1)
    }

    async fn consecutive_failures(&self, user: &UserId) -> Result<u64, StateError> {
        let count: Option<u64> =
            self.connection.clone().get(self.key(&format!("failures:{user}"))).await.map_err(unavailable)?;
        Ok(count.unwrap_or(0))
    }

    /// INCR and PEXPIRE in one transaction; the count outlives any gap between attempts that a
    /// patient attacker would leave (FAILURE_LADDER_TTL), and a success deletes it.
    async fn record_verification(&self, user: &UserId, matched: bool) -> Result<u64, StateError> {
        let key = self.key(&format!("failures:{user}"));
        let mut connection = self.connection.clone();
        if matched {
            let _: () = connection.del(key).await.map_err(unavailable)?;
            return Ok(0);
        }
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .pexpire(&key, millis(super::backend::FAILURE_LADDER_TTL) as i64)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn generation(&self, candidate: &str) -> Result<(String, u64), StateError> {
        let mut invocation = self.look_generation.prepare_invoke();
        invocation.key(self.key("generation")).key(self.key("generation:tick")).arg(candidate);
        invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)
    }

    async fn renew_generation(&self, lost: &str, candidate: &str) -> Result<String, StateError> {
        let mut invocation = self.renew_generation.prepare_invoke();
        invocation.key(self.key("generation")).arg(lost).arg(candidate);
        invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)
    }

    async fn probe(&self) -> Result<(), StateError> {
        let key = self.key(&format!("probe:{}", uuid::Uuid::new_v4().simple()));
        let mut connection = self.connection.clone();
        let _: () = connection.pset_ex(&key, "faceauth", 10_000).await.map_err(unavailable)?;
        let read: Option<String> = connection.get(&key).await.map_err(unavailable)?;
        let _: () = connection.del(&key).await.map_err(unavailable)?;
        match read.as_deref() {
            Some("faceauth") => Ok(()),
            other => Err(StateError::Protocol(format!("the probe key read back as {other:?}"))),
        }
    }

    fn describe(&self) -> String {
        self.target.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_show_credentials() {
        let target =
            RedisTarget { url: "rediss://default:hunter2@cache.example.com:6379/0".into(), prefix: "faceauth:".into() };
        assert_eq!(target.describe(), "rediss://cache.example.com:6379/0 (keys under 'faceauth:')");
    }
}

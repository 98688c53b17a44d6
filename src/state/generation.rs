//! The shared state's generation: how every instance notices that the state was lost.
//!
//! Single use (sessions, grants, challenges, consumed results) is remembered in the shared state
//! alone. A Redis `FLUSHALL`, a restart without persistence, a failover to an empty or lagging
//! replica, or a restart of the in-process backend would forget what was used, and every token
//! issued before would work again. So every token faceauth issues names the generation it was
//! issued under (`sg`, or the prefix of a result's `jti`), and is refused under any other.
//!
//! The generation is one key without expiry. Missing, it is created from the caller's random
//! candidate (all instances racing get the same winner): a lost state comes back as a new
//! generation. A second key, the tick, is incremented on every look; each instance remembers the
//! highest tick it saw, and a tick that went back means the state was rolled back (a snapshot
//! restored, a lagging replica promoted) while the generation survived: that instance then starts
//! a new generation itself, if no other instance did first.

use std::sync::Mutex;

use super::backend::{StateBackend, StateError};

/// KEYS: the generation, the tick. ARGV: a candidate generation. Returns {generation, tick}.
pub(super) const LOOK: &str = r"
local g = redis.call('GET', KEYS[1])
if not g then
  redis.call('SET', KEYS[1], ARGV[1])
  g = ARGV[1]
end
return { g, redis.call('INCR', KEYS[2]) }
";

/// KEYS: the generation. ARGV: the generation judged lost, a candidate. Replaces the first with the
/// second only if it is still in force; returns the generation in force.
pub(super) const RENEW: &str = r"
local g = redis.call('GET', KEYS[1])
if (not g) or g == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return g
";

/// KEYS: the decision's key, the generation, the tick. ARGV: the generation the request read, the
/// highest tick the instance saw, ttl ms, `claim` or `advance`, the counter's value. Returns
/// {0, tick} when made, {1, 0} when refused (used, or the counter is there), {2, 0} when the
/// generation is gone or the tick went back (nothing written).
pub(super) const DECIDE: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return { 2, 0 } end
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[2]) then return { 2, 0 } end
if ARGV[4] == 'claim' then
  if not redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[3]) then return { 1, 0 } end
else
  if tonumber(ARGV[5]) <= tonumber(redis.call('GET', KEYS[1]) or '-1') then return { 1, 0 } end
  redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[3])
end
return { 0, redis.call('INCR', KEYS[3]) }
";

/// A fresh generation: 12 hex digits from the operating system's random source.
pub fn candidate() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// What one instance has seen of the generation.
#[derive(Default)]
pub(super) struct Watch {
    seen: Mutex<Seen>,
}

#[derive(Default, Clone)]
struct Seen {
    generation: Option<String>,
    tick: u64,
    /// How many losses this instance has concluded: a look sent before the latest one is stale.
    losses: u64,
}

/// Why an instance concluded the shared state was lost; a bounded metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// The generation changed (the key was gone and made again, here or on another instance).
    Replaced,
    /// The tick went back while the generation stayed: a rollback.
    RolledBack,
}

impl Watch {
    /// The highest tick this instance saw: a decision refuses a state that went back below it.
    pub(super) fn seen_tick(&self) -> u64 {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).tick
    }

    /// A decision raised the tick to `tick`.
    pub(super) fn saw_tick(&self, tick: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.tick = seen.tick.max(tick);
    }

    /// The generation in force, renewing it when the state was rolled back.
    ///
    /// Looks run concurrently and their answers may come back out of order, so an answer is
    /// judged against what was seen *before it was sent*: Redis runs commands one at a time, so a
    /// look sent after another's answer arrived must see a higher tick, unless the state went back.
    pub(super) async fn current(&self, backend: &dyn StateBackend) -> Result<String, StateError> {
        let before = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (generation, tick) = backend.generation(&candidate()).await?;
        let loss = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.losses != before.losses {
                // A loss was concluded while this look was on its way: its answer is older news.
                return Ok(seen.generation.clone().unwrap_or(generation));
            }
            match &before.generation {
                None => {
                    if seen.generation.is_none() {
                        tracing::info!(generation = %generation, "shared state generation in force");
                    }
                    seen.generation = Some(generation.clone());
                    seen.tick = seen.tick.max(tick);
                    None
                }
                Some(previous) if *previous != generation => {
                    seen.losses += 1;
                    seen.generation = Some(generation.clone());
                    seen.tick = tick;
                    Some((Loss::Replaced, previous.clone()))
                }
                Some(previous) if tick <= before.tick => {
                    seen.losses += 1;
                    seen.tick = tick;
                    Some((Loss::RolledBack, previous.clone()))
                }
                Some(_) => {
                    seen.tick = seen.tick.max(tick);
                    None
                }
            }
        };
        let Some((loss, previous)) = loss else { return Ok(generation) };
        let generation = match loss {
            Loss::Replaced => generation,
            Loss::RolledBack => {
                let renewed = backend.renew_generation(&previous, &candidate()).await?;
                self.seen.lock().unwrap_or_else(|p| p.into_inner()).generation = Some(renewed.clone());
                renewed
            }
        };
        let cause = match loss {
            Loss::Replaced => "replaced",
            Loss::RolledBack => "rolled_back",
        };
        metrics::counter!("faceauth_shared_state_resets_total", "cause" => cause).increment(1);
        tracing::error!(
            cause,
            previous = %previous,
            generation = %generation,
            "the shared state was lost (flushed, restarted without persistence, or failed over to a replica that \
             lacked recent writes): every session, grant, challenge and result token issued before is void; the \
             replay memory, pending challenge plans and short lockouts were forgotten"
        );
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LocalState, Policy, SharedState};
    use std::time::Duration;

    fn state() -> SharedState {
        SharedState::new(LocalState::new(&Policy {
            lockout_per_client: 5,
            lockout_per_user: 20,
            lockout_window: Duration::from_secs(60),
            rate_per_ip: 0,
            rate_per_key: 0,
        }))
    }

    #[tokio::test]
    async fn a_generation_holds_for_the_life_of_its_state() {
        let (a, b) = (state(), state());
        let first = a.generation().await.unwrap();
        assert_eq!(a.generation().await.unwrap(), first);
        assert_eq!(first.len(), 12);
        // Another in-process state (a restarted instance) is another generation.
        assert_ne!(b.generation().await.unwrap(), first);
    }
}

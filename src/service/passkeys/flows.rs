//! The passkey use cases: registration (options, then the browser's answer), the request options a
//! face + passkey session carries, the assertion a verify checks, and what a user's listing and
//! export show of the credentials.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use webauthn_rs::prelude::{Passkey, PublicKeyCredential, RegisterPublicKeyCredential};

use super::binding;
use super::error::PasskeyError;
use super::party::{REGISTRATION_TTL, RelyingParty, StoredPasskey};
use super::values::{PasskeyAuthority, PasskeyInfo, PasskeyProof, RegistrationOptions};
use crate::domain::UserId;
use crate::service::error::ServiceError;
use crate::service::revocation::Revocations;
use crate::service::sessions::{SessionError, SessionPurpose, Sessions};
use crate::state::SharedState;
use crate::store::ReferenceStore;

const STORED_VERSION: u32 = 1;
/// How long the shared state holds a passkey's last counter: long past any race between two
/// assertions (seconds); after it the bucket's counter, saved with every use, is the floor.
const COUNTER_KEPT: std::time::Duration = std::time::Duration::from_secs(86_400);

#[derive(serde::Serialize, serde::Deserialize)]
struct Started {
    user_id: String,
    /// The user's revocation mark when the registration began: a delete meanwhile voids it.
    #[serde(default)]
    mark: Option<String>,
    state: String,
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

fn registration_key(id: &str) -> String {
    format!("passkey-registration:{id}")
}

impl StoredPasskey {
    fn info(&self) -> PasskeyInfo {
        // The credential's counter and flags as the library keeps them (its serialised form).
        let cred = serde_json::to_value(&self.passkey).unwrap_or_default();
        let cred = &cred["cred"];
        PasskeyInfo {
            credential_id: self.credential_id.clone(),
            registered_at: self.registered_at.clone(),
            last_used_at: self.last_used_at.clone(),
            counter: cred["counter"].as_u64().unwrap_or(0),
            transports: cred["transports"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            user_verified: cred["user_verified"].as_bool().unwrap_or(false),
            backup_eligible: cred["backup_eligible"].as_bool().unwrap_or(false),
        }
    }
}

/// The passkey factor: the relying party (PASSKEY_RP_ID; absent when passkeys are off), the
/// credentials in the bucket, registrations and counters in the shared state.
pub struct PasskeyFactor {
    party: Option<RelyingParty>,
    refs: ReferenceStore,
    state: SharedState,
    sessions: Arc<Sessions>,
    revocations: Revocations,
}

impl PasskeyFactor {
    pub fn new(
        party: Option<RelyingParty>,
        refs: ReferenceStore,
        state: SharedState,
        sessions: Arc<Sessions>,
        revocations: Revocations,
    ) -> Self {
        Self { party, refs, state, sessions, revocations }
    }

    fn relying_party(&self) -> Result<&RelyingParty, ServiceError> {
        self.party.as_ref().ok_or(PasskeyError::NotConfigured.into())
    }

    /// Whether passkeys are configured here.
    pub fn passkeys_enabled(&self) -> bool {
        self.party.is_some()
    }

    async fn stored_passkeys(&self, user: &UserId) -> Result<Vec<StoredPasskey>, ServiceError> {
        let mut out = Vec::new();
        for (name, body) in self.refs.passkeys(user).await? {
            match serde_json::from_slice::<StoredPasskey>(&body) {
                Ok(p) if p.user_id == user.as_str() && p.name() == name => out.push(p),
                Ok(_) => tracing::warn!(credential = %name, "passkey does not belong to this user; ignored"),
                Err(e) => tracing::warn!(credential = %name, error = %e, "unreadable passkey; ignored"),
            }
        }
        out.sort_by(|a, b| a.registered_at.cmp(&b.registered_at));
        Ok(out)
    }

    async fn save_passkey(&self, user: &UserId, stored: &StoredPasskey) -> Result<(), ServiceError> {
        let body = serde_json::to_vec(stored).map_err(|e| PasskeyError::Invalid(e.to_string()))?;
        self.refs.save_passkey(user, &stored.name(), Bytes::from(body)).await?;
        Ok(())
    }

    /// The user's credentials, for `GET /api/users/{id}` and the export.
    pub async fn passkeys_of(&self, user: &UserId) -> Result<Vec<PasskeyInfo>, ServiceError> {
        Ok(self.stored_passkeys(user).await?.iter().map(StoredPasskey::info).collect())
    }

    /// A client key may add a passkey only with a live enrol session for the user (not spent by
    /// this: the same session also registers the photo); a backend may always.
    async fn authorise_passkey(
        &self,
        user: &UserId,
        authority: &PasskeyAuthority,
    ) -> Result<Option<String>, ServiceError> {
        let generation = self.state.generation().await?;
        let PasskeyAuthority::Session(token) = authority else { return Ok(None) };
        let session = self.sessions.check(token, user, SessionPurpose::Enroll, &generation)?;
        if !self.revocations.survives(user, session.epoch.as_deref()).await? {
            return Err(SessionError::Revoked.into());
        }
        Ok(Some(session.id))
    }

    /// Starts a registration: the creation options, kept in the shared state for REGISTRATION_TTL.
    pub async fn start_passkey_registration(
        &self,
        user: &UserId,
        authority: PasskeyAuthority,
    ) -> Result<RegistrationOptions, ServiceError> {
        let rp = self.relying_party()?;
        self.authorise_passkey(user, &authority).await?;
        // A device joins a face: a user without references would hold credentials that no listing,
        // export or retention sweep (all of which start from the references) would see.
        if self.refs.load(user).await?.is_empty() {
            return Err(ServiceError::UserNotFound);
        }
        let (existing, mark) = tokio::join!(self.stored_passkeys(user), self.revocations.mark(user));
        let keys: Vec<Passkey> = existing?.into_iter().map(|p| p.passkey).collect();
        let (options, state) = rp.start_registration(user.as_str(), &keys)?;
        let registration_id = uuid::Uuid::new_v4().simple().to_string();
        let started = Started { user_id: user.to_string(), mark: mark?, state };
        let json = serde_json::to_string(&started).map_err(|e| PasskeyError::Invalid(e.to_string()))?;
        self.state.put_record(&registration_key(&registration_id), &json, REGISTRATION_TTL).await?;
        Ok(RegistrationOptions { registration_id, options })
    }

    /// Finishes a registration with the browser's answer. The registration is used once; a client's
    /// enrol session adds one passkey. A delete of the user meanwhile refuses it, and a delete that
    /// races the write takes it back.
    pub async fn finish_passkey_registration(
        &self,
        user: &UserId,
        authority: PasskeyAuthority,
        registration_id: &str,
        credential: &str,
    ) -> Result<PasskeyInfo, ServiceError> {
        let rp = self.relying_party()?;
        let credential: RegisterPublicKeyCredential =
            serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let session_id = self.authorise_passkey(user, &authority).await?;
        let key = registration_key(registration_id);
        let started: Started = self
            .state
            .get_record(&key)
            .await?
            .and_then(|json| serde_json::from_str(&json).ok())
            .filter(|s: &Started| s.user_id == user.as_str())
            .ok_or(PasskeyError::RegistrationUnknown)?;
        self.state.claim(&key, REGISTRATION_TTL).await?.ok_or(PasskeyError::RegistrationUnknown)?.spend();
        self.state.drop_record(&key).await?;
        if let Some(session_id) = session_id {
            let slot = format!("passkey-enrol:{session_id}");
            self.state.claim(&slot, REGISTRATION_TTL).await?.ok_or(PasskeyError::RegistrationUnknown)?.spend();
        }
        if self.revocations.mark(user).await? != started.mark {
            return Err(PasskeyError::RegistrationUnknown.into());
        }
        let passkey = rp.finish_registration(&started.state, &credential)?;
        let stored = StoredPasskey {
            version: STORED_VERSION,
            user_id: user.to_string(),
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id().as_ref() as &[u8]),
            passkey,
            registered_at: now_rfc3339(),
            last_used_at: None,
        };
        self.save_passkey(user, &stored).await?;
        if self.revocations.mark(user).await? != started.mark {
            self.refs.delete_passkey(user, &stored.name()).await?;
            return Err(PasskeyError::RegistrationUnknown.into());
        }
        Ok(stored.info())
    }

    /// The request options a face + passkey session hands to the browser (no challenge: it is
    /// derived from the session and the capture). Refused when the user has no passkey.
    pub(in crate::service) async fn passkey_request(&self, user: &UserId) -> Result<serde_json::Value, ServiceError> {
        let rp = self.relying_party()?;
        let keys: Vec<Passkey> = self.stored_passkeys(user).await?.into_iter().map(|p| p.passkey).collect();
        if keys.is_empty() {
            return Err(PasskeyError::NoneRegistered.into());
        }
        Ok(rp.request_options(&keys)?)
    }

    /// Checks an assertion over this session and these frames against the user's credentials, read
    /// from the bucket (a deleted user's are gone, whatever the shared state remembers), and keeps
    /// the new counter.
    ///
    /// The counter is compared with the bucket's (by `webauthn-rs`), then moved forward in the
    /// shared state by one conditional write under `generation` before it is saved: of a cloned
    /// authenticator and the original signing at the same counter and sent at once, both read the
    /// same stored counter, and only one moves it (the other is `passkey_counter_regressed`).
    pub(in crate::service) async fn check_passkey(
        &self,
        user: &UserId,
        session_token: &str,
        digests: &[String],
        answer: binding::Answer<'_>,
        assertion: &str,
        generation: &str,
    ) -> Result<PasskeyProof, ServiceError> {
        let rp = self.relying_party()?;
        let credential: PublicKeyCredential =
            serde_json::from_str(assertion).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let mut stored = self.stored_passkeys(user).await?;
        if stored.is_empty() {
            return Err(PasskeyError::NotRecognised.into());
        }
        let keys: Vec<Passkey> = stored.iter().map(|p| p.passkey.clone()).collect();
        let result = rp.finish(&credential, &keys, binding::challenge(session_token, digests, answer))?;
        let entry =
            stored.iter_mut().find(|p| p.passkey.cred_id() == result.cred_id()).ok_or(PasskeyError::NotRecognised)?;
        // An authenticator that keeps no counter (0 always, as synced passkeys do) has nothing to race.
        if result.counter() > 0 {
            let id = format!("passkey-counter:{user}:{}", entry.credential_id);
            if !self.state.advance_under(&id, u64::from(result.counter()), COUNTER_KEPT, generation).await? {
                return Err(PasskeyError::CounterRegressed.into());
            }
        }
        entry.passkey.update_credential(&result);
        entry.last_used_at = Some(now_rfc3339());
        self.save_passkey(user, entry).await?;
        Ok(PasskeyProof { credential_id: entry.credential_id.clone(), user_verified: result.user_verified() })
    }
}

//! The user's passkeys: `{prefix}passkeys/{user_id}/{name}.json`, one object per credential, beside
//! the references (outside the user's reference folder, so reference readers never see them) and
//! sealed like them under the template key. The store keeps the bytes; what a credential is, is
//! the service's business. A delete of the user removes them with the references.

use bytes::Bytes;
use futures::future::try_join_all;

use super::handle::ReferenceStore;
use super::sealing::context;
use crate::domain::UserId;
use crate::store::object::StoreError;
use crate::store::sealed::ObjectKind;

/// A stored credential's name: hex, as the service derives it from the credential id.
fn is_credential_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ReferenceStore {
    fn passkeys_prefix(&self, user: &UserId) -> String {
        format!("{}passkeys/{user}/", self.prefix)
    }

    /// Writes (or overwrites) one credential.
    pub async fn save_passkey(&self, user: &UserId, name: &str, body: Bytes) -> Result<(), StoreError> {
        if !is_credential_name(name) {
            return Err(StoreError::Corrupt(format!("{name:?} is not a credential name")));
        }
        let key = format!("{}{name}.json", self.passkeys_prefix(user));
        let body = self.encode(context(user.as_str(), name, ObjectKind::Passkey), body).await?;
        self.objects.put(&key, body, "application/json").await
    }

    /// Every credential of the user, by name. An object that does not open is skipped and logged,
    /// as an unreadable sidecar is; the key service being out of reach fails the read.
    pub async fn passkeys(&self, user: &UserId) -> Result<Vec<(String, Bytes)>, StoreError> {
        let prefix = self.passkeys_prefix(user);
        let keys: Vec<String> = self.objects.list(&prefix).await?;
        let named: Vec<(&String, &str)> = keys
            .iter()
            .filter_map(|k| {
                k.strip_prefix(&prefix)?.strip_suffix(".json").filter(|n| is_credential_name(n)).map(|n| (k, n))
            })
            .collect();
        let blobs = try_join_all(named.iter().map(|(k, _)| self.objects.get(k))).await?;
        let mut out = Vec::with_capacity(named.len());
        for ((key, name), blob) in named.into_iter().zip(blobs) {
            let Some(blob) = blob else { continue };
            match self.decode(context(user.as_str(), name, ObjectKind::Passkey), blob).await {
                Ok(body) => out.push((name.to_string(), body)),
                Err(StoreError::Corrupt(e)) => tracing::warn!(key = %key, error = %e, "passkey not used; ignored"),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes one credential (a registration a concurrent delete of the user overtook).
    pub async fn delete_passkey(&self, user: &UserId, name: &str) -> Result<(), StoreError> {
        self.objects.delete(&format!("{}{name}.json", self.passkeys_prefix(user))).await
    }

    /// Removes every credential of the user; returns how many objects there were.
    pub(super) async fn delete_passkeys(&self, user: &UserId) -> Result<usize, StoreError> {
        let keys = self.objects.list(&self.passkeys_prefix(user)).await?;
        try_join_all(keys.iter().map(|k| self.objects.delete(k))).await?;
        Ok(keys.len())
    }
}

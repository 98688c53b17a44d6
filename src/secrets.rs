//! AWS Secrets Manager: a JSON secret whose keys override configuration variables.

use aws_sdk_secretsmanager::Client;
use aws_types::SdkConfig;

use crate::config::{RawEnv, Var};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "could not read secret {name}: check SECRETS_MANAGER_SECRET_NAME, AWS_REGION and that the role may call \
         secretsmanager:GetSecretValue on it"
    )]
    Read { name: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("secret {name} has no string value: store it as JSON")]
    NotString { name: String },
    /// The text is not echoed: it may hold the secrets themselves.
    #[error("secret {name} is not a JSON object such as {{\"SECRET_KEY\": \"...\"}}")]
    NotJson { name: String },
}

/// Lays the secret's keys over `raw`. Returns the names applied (never the values).
pub async fn overlay(raw: &mut RawEnv, name: &str, sdk: &SdkConfig) -> Result<Vec<String>, SecretsError> {
    let client = Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| SecretsError::Read { name: name.to_string(), source: Box::new(e) })?;
    let text = out.secret_string().ok_or_else(|| SecretsError::NotString { name: name.to_string() })?;
    apply(raw, name, text)
}

fn apply(raw: &mut RawEnv, name: &str, text: &str) -> Result<Vec<String>, SecretsError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| SecretsError::NotJson { name: name.to_string() })?;
    let mut applied = Vec::new();
    for (key, value) in map {
        let Some(var) = Var::ALL.iter().copied().find(|v| v.name() == key) else {
            tracing::warn!(key = %key, "secret key is not a configuration variable; ignored");
            continue;
        };
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        raw.set(var, value);
        applied.push(key);
    }
    applied.sort();
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_override_and_lists_join() {
        let mut raw = RawEnv::from_pairs([("SECRET_KEY", "from-env")]);
        let applied =
            apply(&mut raw, "s", r#"{"SECRET_KEY":"from-secret","API_KEYS":["a","b"],"OTHER":"x","PORT":8080}"#)
                .unwrap();
        assert_eq!(applied, vec!["API_KEYS", "PORT", "SECRET_KEY"]);
        assert_eq!(raw.get(Var::SecretKey), Some("from-secret"));
        assert_eq!(raw.get(Var::ApiKeys), Some("a,b"));
        assert_eq!(raw.get(Var::Port), Some("8080"));
    }

    #[test]
    fn a_non_json_secret_is_an_error_that_does_not_echo_it() {
        let err = apply(&mut RawEnv::default(), "s", "hunter2").unwrap_err();
        assert!(!crate::telemetry::chain(&err).contains("hunter2"));
    }
}

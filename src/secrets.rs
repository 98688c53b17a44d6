//! AWS Secrets Manager: a JSON secret whose keys override configuration variables.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_types::SdkConfig;

use crate::config::{RawEnv, VARIABLES};

/// Lays the secret's keys over `raw`. Returns the names applied (never the values).
pub async fn overlay(raw: &mut RawEnv, secret_name: &str, sdk: &SdkConfig) -> Result<Vec<String>, String> {
    let client = Client::new(sdk);
    let out = client.get_secret_value().secret_id(secret_name).send().await.map_err(|e| {
        format!(
            "could not read secret {secret_name} ({}): check SECRETS_MANAGER_SECRET_NAME, AWS_REGION and that the \
             role may call secretsmanager:GetSecretValue on it",
            DisplayErrorContext(&e)
        )
    })?;
    let text =
        out.secret_string().ok_or_else(|| format!("secret {secret_name} has no string value: store it as JSON"))?;
    apply(raw, secret_name, text)
}

fn apply(raw: &mut RawEnv, secret_name: &str, text: &str) -> Result<Vec<String>, String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|_| format!("secret {secret_name} is not a JSON object such as {{\"SECRET_KEY\": \"...\"}}"))?;
    let mut applied = Vec::new();
    for (key, value) in map {
        if !VARIABLES.contains(&key.as_str()) {
            tracing::warn!(key = %key, "secret key is not a configuration variable; ignored");
            continue;
        }
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        raw.set(&key, value);
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
        assert_eq!(raw.get("SECRET_KEY"), Some("from-secret"));
        assert_eq!(raw.get("API_KEYS"), Some("a,b"));
        assert_eq!(raw.get("PORT"), Some("8080"));
    }

    #[test]
    fn a_non_json_secret_is_an_error_that_does_not_echo_it() {
        let err = apply(&mut RawEnv::default(), "s", "hunter2").unwrap_err();
        assert!(!err.contains("hunter2"));
    }
}

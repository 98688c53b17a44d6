//! One AWS SDK configuration for S3 and Secrets Manager: the default credential chain, bounded
//! timeouts and retries, and an optional endpoint for S3-compatible servers.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::ProvideCredentials;
use aws_types::SdkConfig;

/// Timeouts are short on purpose: a face-auth request must answer 503 quickly when AWS is
/// unreachable rather than hold the caller until the request timeout.
pub async fn sdk_config(region: Option<&str>, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Resolves credentials through the default chain and names where they came from, in the chain's
/// own order (environment, profile/SSO, web identity, container, instance metadata).
pub async fn credential_source(config: &SdkConfig) -> Result<String, String> {
    let provider = config.credentials_provider().ok_or("no credential provider is configured")?;
    provider.provide_credentials().await.map_err(|e| {
        format!(
            "no AWS credentials found ({}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY locally, or attach an \
             instance role with the policy in deploy/iam-policy.json on EC2",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        )
    })?;
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    Ok(if set("AWS_ACCESS_KEY_ID") {
        "environment variables (AWS_ACCESS_KEY_ID)"
    } else if set("AWS_PROFILE")
        || std::path::Path::new(&format!("{}/.aws", std::env::var("HOME").unwrap_or_default())).exists()
    {
        "shared profile / SSO (~/.aws)"
    } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        "web identity token"
    } else if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        "container (ECS) credentials"
    } else {
        "EC2 instance role (instance metadata)"
    }
    .to_string())
}

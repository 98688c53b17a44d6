//! The raw variables and the parser that turns them into typed values, collecting every problem.

use std::collections::HashMap;
use std::time::Duration;

macro_rules! variables {
    ($($var:ident = $name:literal,)*) => {
        /// Every variable the service reads. Looking one up by this enum (not by a string) means a
        /// variable cannot be read without being loaded from the environment and documented.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Var { $($var,)* }

        impl Var {
            pub const ALL: &'static [Var] = &[$(Var::$var,)*];

            pub const fn name(self) -> &'static str {
                match self { $(Var::$var => $name,)* }
            }
        }
    };
}

variables! {
    AppEnv = "APP_ENV",
    Host = "HOST",
    Port = "PORT",
    LogLevel = "LOG_LEVEL",
    LogFormat = "LOG_FORMAT",
    DataDir = "DATA_DIR",
    S3Bucket = "S3_BUCKET",
    S3Prefix = "S3_PREFIX",
    AwsRegion = "AWS_REGION",
    AwsEndpointUrl = "AWS_ENDPOINT_URL",
    S3ForcePathStyle = "S3_FORCE_PATH_STYLE",
    KmsKeyId = "KMS_KEY_ID",
    SecretsManagerSecretName = "SECRETS_MANAGER_SECRET_NAME",
    SecretKey = "SECRET_KEY",
    ApiKeys = "API_KEYS",
    ClientApiKeys = "CLIENT_API_KEYS",
    EnrollmentTtlSecs = "ENROLLMENT_TTL_SECS",
    ReplayGuard = "REPLAY_GUARD",
    ModelDir = "MODEL_DIR",
    ModelPack = "MODEL_PACK",
    DetectorModel = "DETECTOR_MODEL",
    RecognizerModel = "RECOGNIZER_MODEL",
    LandmarkModel = "LANDMARK_MODEL",
    RecognizerProfile = "RECOGNIZER_PROFILE",
    OrtDylibPath = "ORT_DYLIB_PATH",
    MatchThreshold = "MATCH_THRESHOLD",
    MatchFmr = "MATCH_FMR",
    Pipeline = "PIPELINE",
    DetectorInputSize = "DETECTOR_INPUT_SIZE",
    DetectionThreshold = "DETECTION_THRESHOLD",
    NmsThreshold = "NMS_THRESHOLD",
    MinEyeDistancePx = "MIN_EYE_DISTANCE_PX",
    EnrollFaceMargin = "ENROLL_FACE_MARGIN",
    VerifyFaceMargin = "VERIFY_FACE_MARGIN",
    MaxUploadSize = "MAX_UPLOAD_SIZE",
    MaxImagePixels = "MAX_IMAGE_PIXELS",
    InferenceWorkers = "INFERENCE_WORKERS",
    InferenceThreads = "INFERENCE_THREADS",
    InferenceThreadPool = "INFERENCE_THREAD_POOL",
    InferenceQueue = "INFERENCE_QUEUE",
    TokenTtlSecs = "TOKEN_TTL_SECS",
    RequestTimeoutSecs = "REQUEST_TIMEOUT_SECS",
    ShutdownTimeoutSecs = "SHUTDOWN_TIMEOUT_SECS",
    EmbeddingCacheUsers = "EMBEDDING_CACHE_USERS",
    EmbeddingCacheTtlSecs = "EMBEDDING_CACHE_TTL_SECS",
    CorsOrigins = "CORS_ORIGINS",
    SdkGuideDir = "SDK_GUIDE_DIR",
    MaxReferencesPerUser = "MAX_REFERENCES_PER_USER",
    RateLimitPerIp = "RATE_LIMIT_PER_IP",
    RateLimitPerKey = "RATE_LIMIT_PER_KEY",
    TrustedProxies = "TRUSTED_PROXIES",
    LockoutMaxFailures = "LOCKOUT_MAX_FAILURES",
    LockoutWindowSecs = "LOCKOUT_WINDOW_SECS",
    LockoutUserMaxFailures = "LOCKOUT_USER_MAX_FAILURES",
    MaxConcurrentUploads = "MAX_CONCURRENT_UPLOADS",
    MaxConnections = "MAX_CONNECTIONS",
    HttpHeaderTimeoutSecs = "HTTP_HEADER_TIMEOUT_SECS",
    MetricsToken = "METRICS_TOKEN",
    SharedStateUrl = "SHARED_STATE_URL",
    Liveness = "LIVENESS",
    ChallengeSteps = "CHALLENGE_STEPS",
    ChallengeTtlSecs = "CHALLENGE_TTL_SECS",
    ChallengeFrontalYaw = "CHALLENGE_FRONTAL_YAW",
    ChallengeMinYaw = "CHALLENGE_MIN_YAW",
    ChallengeMinParallax = "CHALLENGE_MIN_PARALLAX",
    ChallengeMinShading = "CHALLENGE_MIN_SHADING",
    QualityMinSharpness = "QUALITY_MIN_SHARPNESS",
    QualityMinBrightness = "QUALITY_MIN_BRIGHTNESS",
    QualityMaxBrightness = "QUALITY_MAX_BRIGHTNESS",
    QualityMaxClipped = "QUALITY_MAX_CLIPPED",
    QualityMaxYaw = "QUALITY_MAX_YAW",
    QualityMaxPitch = "QUALITY_MAX_PITCH",
    LivenessThreshold = "LIVENESS_THRESHOLD",
    LivenessModels = "LIVENESS_MODELS",
    SharedStatePrefix = "SHARED_STATE_PREFIX",
    SessionTtlSecs = "SESSION_TTL_SECS",
    ClientAccess = "CLIENT_ACCESS",
    TokenAlg = "TOKEN_ALG",
    TokenSigningKey = "TOKEN_SIGNING_KEY",
    TokenSigningKeyFile = "TOKEN_SIGNING_KEY_FILE",
    TokenPreviousKeys = "TOKEN_PREVIOUS_KEYS",
    TokenIssuer = "TOKEN_ISSUER",
    TokenAudience = "TOKEN_AUDIENCE",
    ReplayWindowSecs = "REPLAY_WINDOW_SECS",
    ChallengeMoves = "CHALLENGE_MOVES",
    ChallengeMinPitch = "CHALLENGE_MIN_PITCH",
    LightChallenge = "LIGHT_CHALLENGE",
    CaptureFps = "CAPTURE_FPS",
    LockoutDisableAfter = "LOCKOUT_DISABLE_AFTER",
    ConsentRequired = "CONSENT_REQUIRED",
    RetentionPeriod = "RETENTION_PERIOD",
    RetentionSweepInterval = "RETENTION_SWEEP_INTERVAL",
    TemplateKmsKeyId = "TEMPLATE_KMS_KEY_ID",
    TemplateKeyCacheSecs = "TEMPLATE_KEY_CACHE_SECS",
    TemplatePlaintext = "TEMPLATE_PLAINTEXT",
    AwsEndpointUrlKms = "AWS_ENDPOINT_URL_KMS",
    AuditS3Prefix = "AUDIT_S3_PREFIX",
    AuditFlushSecs = "AUDIT_FLUSH_SECS",
    AuditBufferRecords = "AUDIT_BUFFER_RECORDS",
    PasskeyRpId = "PASSKEY_RP_ID",
    PasskeyOrigins = "PASSKEY_ORIGINS",
    PasskeyRpName = "PASSKEY_RP_NAME",
}

/// The raw variables, before parsing: the process environment, then a secret's keys laid over it.
#[derive(Debug, Clone, Default)]
pub struct RawEnv(HashMap<Var, String>);

impl RawEnv {
    pub fn from_process() -> Self {
        Self(Var::ALL.iter().filter_map(|v| std::env::var(v.name()).ok().map(|value| (*v, value))).collect())
    }

    /// Pairs by variable name; names that are not configuration variables are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut raw = Self::default();
        for (name, value) in pairs {
            if let Some(var) = Var::ALL.iter().find(|v| v.name() == name) {
                raw.set(*var, value.to_string());
            }
        }
        raw
    }

    /// The trimmed value; empty counts as unset.
    pub fn get(&self, var: Var) -> Option<&str> {
        self.0.get(&var).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, var: Var, value: String) {
        self.0.insert(var, value);
    }
}

/// Collects parse problems instead of stopping at the first, so a deploy fails once with the list.
pub struct Parser<'a> {
    raw: &'a RawEnv,
    problems: Vec<String>,
}

impl<'a> Parser<'a> {
    pub fn new(raw: &'a RawEnv) -> Self {
        Self { raw, problems: Vec::new() }
    }

    pub fn raw(&self) -> &'a RawEnv {
        self.raw
    }

    pub fn get(&self, var: Var) -> Option<&'a str> {
        self.raw.get(var)
    }

    pub fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    pub fn into_problems(self) -> Vec<String> {
        self.problems
    }

    pub fn parse<T: std::str::FromStr>(&mut self, var: Var, default: T, what: &str) -> T {
        match self.raw.get(var) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problems.push(format!("{}={v} is not valid: expected {what}", var.name()));
                default
            }),
        }
    }

    pub fn ranged<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        var: Var,
        default: T,
        lo: T,
        hi: T,
    ) -> T {
        let v = self.parse(var, default, &format!("a number from {lo} to {hi}"));
        if v < lo || v > hi {
            self.problems.push(format!("{}={v} is out of range: expected a number from {lo} to {hi}", var.name()));
            return default;
        }
        v
    }

    /// Whole seconds from 1 to `hi`.
    pub fn secs(&mut self, var: Var, default: u64, hi: u64) -> Duration {
        Duration::from_secs(self.ranged(var, default, 1, hi))
    }

    pub fn string(&self, var: Var, default: &str) -> String {
        self.raw.get(var).unwrap_or(default).to_string()
    }

    /// `on`/`off` (also true/false, 1/0, yes/no).
    pub fn switch(&mut self, var: Var, default: bool) -> bool {
        match self.raw.get(var).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("on" | "true" | "1" | "yes") => true,
            Some("off" | "false" | "0" | "no") => false,
            Some(other) => {
                self.problems.push(format!("{}={other} is not valid: use on or off", var.name()));
                default
            }
        }
    }

    /// A comma-separated list, blanks dropped.
    pub fn list(&self, var: Var) -> Vec<String> {
        self.raw
            .get(var)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// `1095d`, `36h`, `15m`, `30s` (or bare seconds).
pub fn parse_duration(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(secs).filter(|s| *s > 0).map(std::time::Duration::from_secs)
}

impl Parser<'_> {
    /// An optional duration such as `1095d` or `30s`.
    pub fn duration(&mut self, var: Var) -> Option<std::time::Duration> {
        let value = self.raw.get(var)?;
        let parsed = parse_duration(value);
        if parsed.is_none() {
            self.problems.push(format!(
                "{}={value} is not valid: expected a duration such as 1095d, 36h, 15m or 30s",
                var.name()
            ));
        }
        parsed
    }
}

/// `16777216`, `16MiB`, `16M`, `512KiB`, `512K`.
pub fn parse_size(value: &str) -> Option<usize> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1095d"), Some(std::time::Duration::from_secs(1095 * 86_400)));
        assert_eq!(parse_duration("36h"), Some(std::time::Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("30s"), Some(std::time::Duration::from_secs(30)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("3y"), None);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn names_are_unique_and_unknown_pairs_ignored() {
        let mut names: Vec<_> = Var::ALL.iter().map(|v| v.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Var::ALL.len());
        let raw = RawEnv::from_pairs([("PORT", " 80 "), ("NOT_A_VARIABLE", "x"), ("HOST", "")]);
        assert_eq!(raw.get(Var::Port), Some("80"));
        assert_eq!(raw.get(Var::Host), None);
    }
}

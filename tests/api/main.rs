//! HTTP-level tests: the real binary on a free port, real models, real photos, and a real
//! S3-protocol server (moto) on loopback.

mod authenticator;
#[path = "../pipeline/flat.rs"]
mod flat;
mod helpers;
mod relay;

mod access;
mod accuracy;
mod audit;
mod capture;
mod challenge;
mod cli;
mod cluster;
mod connections;
mod deploy;
mod docs;
mod dropped;
mod encryption;
mod errors;
mod fairness;
mod flow;
mod hostile;
mod instances;
mod ladder;
mod liveness;
mod liveness_eval;
mod lockout;
mod lost_state;
mod operations;
mod passkeys;
mod privacy;
mod s3;
mod security;
mod sessions;
mod shading;

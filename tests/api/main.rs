//! HTTP-level tests: the real binary on a free port, real models, real photos, and a real
//! S3-protocol server (moto) on loopback.

mod helpers;

mod cli;
mod deploy;
mod errors;
mod flow;
mod hostile;
mod operations;
mod s3;
mod security;

//! faceauth: face authentication over HTTP.
//!
//! `face` turns photos into embeddings; `store` keeps references; `service` is the domain logic of
//! register/verify; `api` is the HTTP surface; `startup` wires them together and checks everything
//! before the port is bound.

pub mod api;
pub mod auth;
pub mod aws;
pub mod compare;
pub mod config;
pub mod domain;
pub mod face;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod secrets;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod token;

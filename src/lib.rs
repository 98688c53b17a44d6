//! faceauth: face authentication over HTTP.
//!
//! `face` turns photos into embeddings; `store` keeps references; `service` is the domain logic of
//! register/verify; `api` is the HTTP surface, `middleware` its layers, sharing `app` (state) and
//! `error` (the boundary error); `startup` wires them together and checks everything before the
//! port is bound. ARCHITECTURE.md draws the map.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod calibration;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod face;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod secrets;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;

#[cfg(test)]
mod architecture;

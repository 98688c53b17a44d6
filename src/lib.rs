//! faceauth: face authentication over HTTP.
//!
//! `face` turns photos into embeddings; `store` keeps references; `service` is the domain logic of
//! register/verify; `api` is the HTTP surface; `startup` wires them together and checks everything
//! before the port is bound.

pub mod face;

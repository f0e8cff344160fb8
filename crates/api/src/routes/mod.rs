//! The handlers, one module per resource. Each parses its request, calls one use case of
//! `depot-service` and renders the answer.

pub mod access;
pub mod audit;
pub mod console;
pub mod deployments;
pub mod health;
pub mod models;
pub mod oip;
pub mod predict;
pub mod traffic;
pub mod versions;

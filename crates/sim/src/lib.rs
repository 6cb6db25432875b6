//! Synthetic data for Salon: the deterministic demo brand "Maison Lumière" used by the demo,
//! the tests and the benchmarks. And [`tencent`]: the WeCom + Official Account provider simulator (the sandbox channel).

pub mod demo;
pub mod events;
pub mod s3;
pub mod sales;
pub mod tencent;

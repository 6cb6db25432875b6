//! Synthetic data for Salon: the deterministic demo brand "Maison Lumière" used by the demo,
//! the tests and the benchmarks. (The provider simulators join this crate with the channels.)

pub mod demo;
pub mod events;

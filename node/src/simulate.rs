//! Simulate.

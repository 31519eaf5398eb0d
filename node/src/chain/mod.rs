//! Chain side.

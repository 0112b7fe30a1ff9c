//! Torn writes on a simulated NOR flash (in progress).

//! Embedded Spin-compatible host (work in progress).

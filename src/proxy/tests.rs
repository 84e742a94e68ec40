//! Core scenario tests (behaviour §11) — see below.

//! bearing-guard

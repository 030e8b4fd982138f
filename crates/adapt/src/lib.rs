//! bearing-adapt

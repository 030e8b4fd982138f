//! bearing-demo

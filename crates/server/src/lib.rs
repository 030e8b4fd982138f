//! bearing-server

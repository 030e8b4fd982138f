//! bearing-workflow

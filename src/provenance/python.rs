//! CONTRACT STUB (issue 12): see provenance/mod.rs for what this module owns.

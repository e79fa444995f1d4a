//! Salvage of a damaged database: `labtrail check --repair`.

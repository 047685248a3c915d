//! Domain rules beyond the XSD.
use crate::{Ivi, Profile};
/// A rule finding.
#[derive(Debug, Clone)]
pub struct Finding { pub code: &'static str, pub message: String }
/// Checks.
pub fn check(_ivi: &Ivi, _p: Profile) -> Vec<Finding> { Vec::new() }

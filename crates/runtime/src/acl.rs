//! Access control between objects: Flux's `--no-cross-namespace-refs`.
//!
//! Controllers that follow references to objects in other namespaces (a
//! Kustomization's `sourceRef`, an Alert's `eventSources`) call
//! [`check_reference`] before reading the referenced object, so a tenant
//! cannot reach another tenant's sources when the flag is set.

use crate::error::ReconcileError;
use crate::scrub::Scrubbed;

/// The Flux reason of a refused reference.
pub const ACCESS_DENIED: &str = "AccessDenied";

/// Whether references may leave the referring object's namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CrossNamespace {
    /// References to any namespace are followed (Flux's default).
    #[default]
    Allowed,
    /// Only references within the same namespace (`--no-cross-namespace-refs`).
    Denied,
}

impl CrossNamespace {
    /// The policy for the value of `--no-cross-namespace-refs`.
    #[must_use]
    pub fn from_flag(no_cross_namespace_refs: bool) -> Self {
        if no_cross_namespace_refs {
            Self::Denied
        } else {
            Self::Allowed
        }
    }
}

/// Checks the reference in spec field `field` of an object in namespace
/// `from` to namespace `to` (`None` means the referrer's own namespace).
///
/// # Errors
/// A stalled [`ReconcileError`] with reason [`ACCESS_DENIED`] naming the
/// field and both namespaces, when `policy` denies the reference; retrying
/// cannot help until the spec or the controller's flags change.
pub fn check_reference(
    policy: CrossNamespace,
    field: &str,
    from: &str,
    to: Option<&str>,
) -> Result<(), ReconcileError> {
    match to {
        Some(to) if to != from && policy == CrossNamespace::Denied => Err(ReconcileError::stalled(
            ACCESS_DENIED,
            Scrubbed::new(&format!(
                "{field} refers to namespace '{to}' from namespace '{from}', and cross-namespace references are disabled (--no-cross-namespace-refs); move the object into '{from}' or ask an administrator"
            )),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::{ACCESS_DENIED, CrossNamespace, check_reference};
    use crate::error::Handling;

    #[test]
    fn cross_namespace_references_are_refused_only_when_denied() {
        let denied = CrossNamespace::from_flag(true);
        assert!(check_reference(denied, "spec.sourceRef", "apps", None).is_ok());
        assert!(check_reference(denied, "spec.sourceRef", "apps", Some("apps")).is_ok());
        let err =
            check_reference(denied, "spec.sourceRef", "apps", Some("flux-system")).unwrap_err();
        assert_eq!(err.reason, ACCESS_DENIED);
        assert_eq!(err.handling, Handling::Stalled);
        let message = err.message.as_str();
        assert!(
            message.contains("spec.sourceRef")
                && message.contains("'flux-system'")
                && message.contains("'apps'"),
            "{message}"
        );
        let allowed = CrossNamespace::from_flag(false);
        assert!(check_reference(allowed, "spec.sourceRef", "apps", Some("flux-system")).is_ok());
    }
}

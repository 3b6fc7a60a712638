//! Server-side apply as Flux's shared `ssa` package does it, for every
//! controller that writes objects to a cluster: [`apply`] applies a set of
//! objects in stages (the apply order, the dry-run comparison, the deletion
//! policies, inventory ids and prune), [`health`] says whether an applied
//! object is ready in the sense of kstatus, and [`normalize`] adjusts objects
//! before they are applied (`protocol: TCP` for old API servers, the owner's
//! labels).
//!
//! The crate knows no kind: the owning kind's API group, whose labels and
//! annotations mark what it applied, is passed in as an [`apply::Owner`].

pub mod apply;
pub mod health;
pub mod normalize;

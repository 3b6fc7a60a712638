//! Integration tests of the API types on a real Kubernetes API server: the
//! generated CRDs load, Flux manifests round-trip with no field lost, and bad
//! objects are refused with a message naming the field.

mod crds;
mod roundtrip;
mod support;
mod validation;

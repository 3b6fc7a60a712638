//! A kustomize-compatible builder: turns a kustomization directory into the
//! Kubernetes objects kustomize v5 would produce, in the same order.

//! Integration tests of the notification-controller: the source-, kustomize-
//! and notification-controller binaries as their own processes against the
//! shared real control plane; local HTTP sinks stand in for Slack and
//! webhooks and check the exact payloads.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod alerts;
mod providers;
mod receivers;
mod support;

//! The notification-controller: the other controllers POST their events
//! here ([`server`]); Flux's `Alert` objects select them ([`alerts`]) and
//! `Provider` objects say where they go and in which format (built by the
//! `ferroflux-notify` library); [`dispatch`] connects the two without ever blocking the
//! endpoint, through the HTTP client [`transport`] picks for a Provider's
//! proxy and certificates. [`receivers`] are the incoming webhooks that ask
//! objects to reconcile; [`stores`] keeps the watched Alerts, Providers and
//! Receivers.

pub mod alerts;
pub mod dispatch;
pub mod metrics;
pub mod receivers;
pub mod server;
pub mod stores;
pub mod transport;

//! The notification-controller's own metrics, beside the health endpoints.

use std::sync::Arc;

use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Counters of what happened to events.
#[derive(Default)]
pub struct Stats {
    /// Events accepted at the endpoint.
    pub received: Counter,
    /// Events dropped because the queue was full.
    pub dropped: Counter,
    /// Identical events dropped by the rate limit.
    pub rate_limited: Counter,
    /// Deliveries that reached a provider.
    pub delivered: Counter,
    /// Deliveries that failed after every retry.
    pub failed: Counter,
}

impl Stats {
    /// The counters and a registry exposing them.
    #[must_use]
    pub fn registered() -> (Arc<Self>, Registry) {
        let stats = Arc::new(Self::default());
        let mut registry = Registry::default();
        for (name, help, counter) in [
            (
                "notification_events_received",
                "Events accepted",
                &stats.received,
            ),
            (
                "notification_events_dropped",
                "Events dropped: queue full",
                &stats.dropped,
            ),
            (
                "notification_events_rate_limited",
                "Identical events dropped",
                &stats.rate_limited,
            ),
            (
                "notification_deliveries",
                "Deliveries to providers",
                &stats.delivered,
            ),
            (
                "notification_delivery_failures",
                "Deliveries failed after retries",
                &stats.failed,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        (stats, registry)
    }
}

/// `/metrics` over `registry`.
pub fn router(registry: Registry) -> axum::Router {
    let registry = Arc::new(registry);
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                let mut text = String::new();
                // Writing into a String cannot fail.
                let _ = encode(&mut text, &registry);
                text
            }
        }),
    )
}

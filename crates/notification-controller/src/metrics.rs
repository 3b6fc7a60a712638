//! The notification-controller's own counters, served on `/metrics` beside
//! the runtime's reconcile metrics for Receivers.

use std::sync::Arc;

use ferroflux_runtime::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;

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
    /// The counters, registered in `metrics`.
    #[must_use]
    pub fn registered(metrics: &Metrics) -> Arc<Self> {
        let stats = Arc::new(Self::default());
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
            metrics.register(name, help, counter.clone());
        }
        stats
    }
}

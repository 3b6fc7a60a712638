//! Waiting in tests: poll with a deadline, never sleep to synchronise.

use std::time::{Duration, Instant};

/// How often [`eventually`] polls.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, and returns that value.
///
/// # Panics
/// After `timeout`, naming `what`: this is how a test reports that something
/// it waited for never happened.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        // The polling interval of `eventually`, bounded by its deadline.
        tokio::time::sleep(POLL).await;
    }
}

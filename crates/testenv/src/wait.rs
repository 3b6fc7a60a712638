//! Waiting in tests: poll with a deadline, never sleep to synchronise.

use std::time::{Duration, Instant};

/// How often [`eventually`] polls.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some` and returns that value, or `None`
/// once `timeout` has passed: for waits whose caller reports the failure
/// itself (a driver's check, a report) instead of panicking.
pub async fn poll<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // The polling interval, bounded by the deadline.
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it returns `Some`, and returns that value.
///
/// # Panics
/// After `timeout`, naming `what`: this is how a test reports that something
/// it waited for never happened.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(timeout, check).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting until {what}"),
    }
}

/// Waits until `api` no longer has the object `name`: deleted, and every
/// finalizer done.
///
/// # Panics
/// After `timeout`, naming the object.
pub async fn eventually_gone<K>(api: &kube::Api<K>, name: &str, timeout: Duration)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let what = format!("{name} is gone");
    eventually(&what, timeout, || async {
        // A failed request counts as "not yet": the next poll asks again.
        api.get_opt(name)
            .await
            .ok()
            .and_then(|found| found.is_none().then_some(()))
    })
    .await;
}

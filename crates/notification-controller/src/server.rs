//! The event endpoint the other controllers POST Flux's event payload to.
//! It only validates and queues: delivery happens elsewhere, so a slow
//! provider never holds up a controller. A full queue drops the event with
//! a 429, counted and logged.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use ferroflux_api::event::Event;
use tokio::sync::mpsc;

use crate::metrics::Stats;

/// The largest event accepted.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Clone)]
struct Inbox {
    queue: mpsc::Sender<Event>,
    stats: Arc<Stats>,
}

/// The endpoint: `POST /` with one event.
pub fn router(queue: mpsc::Sender<Event>, stats: Arc<Stats>) -> axum::Router {
    axum::Router::new()
        .route("/", post(receive))
        .with_state(Inbox { queue, stats })
}

async fn receive(State(inbox): State<Inbox>, body: Body) -> (StatusCode, String) {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_EVENT_BYTES).await else {
        return (
            StatusCode::BAD_REQUEST,
            format!("the event is larger than {MAX_EVENT_BYTES} bytes"),
        );
    };
    let event: Event = match serde_json::from_slice(&bytes) {
        Ok(event) => event,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("malformed event: {e}")),
    };
    let object = &event.involved_object;
    if object.kind.as_deref().unwrap_or_default().is_empty()
        || object.name.as_deref().unwrap_or_default().is_empty()
    {
        return (
            StatusCode::BAD_REQUEST,
            "the event's involvedObject needs a kind and a name".into(),
        );
    }
    if event.severity != "info" && event.severity != "error" {
        return (
            StatusCode::BAD_REQUEST,
            format!("severity '{}' is neither info nor error", event.severity),
        );
    }
    inbox.stats.received.inc();
    if inbox.queue.try_send(event).is_ok() {
        return (StatusCode::ACCEPTED, String::new());
    }
    inbox.stats.dropped.inc();
    tracing::warn!("event queue full: an event was dropped");
    (
        StatusCode::TOO_MANY_REQUESTS,
        "the event queue is full; the event was dropped".into(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::{MAX_EVENT_BYTES, router};
    use crate::metrics::Stats;

    const EVENT: &str = r#"{"involvedObject": {"kind": "Kustomization", "name": "app", "namespace": "apps"},
        "severity": "info", "timestamp": "2026-11-23T10:00:00Z", "message": "m", "reason": "r",
        "reportingController": "kustomize-controller"}"#;

    #[tokio::test]
    async fn bad_events_get_a_400_and_a_full_queue_a_429() {
        let counters = Arc::new(Stats::default());
        let (queue, mut inbox) = mpsc::channel(1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, router(queue, counters.clone())).into_future());
        let http = ferroflux_tls::http_client();
        let post = |body: String| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let response = http.post(url).body(body).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        assert_eq!(post(EVENT.into()).await.0, 202);
        let (status, reason) = post(EVENT.into()).await;
        assert_eq!((status, reason.contains("queue is full")), (429, true));
        assert_eq!(counters.dropped.get(), 1);
        assert!(inbox.recv().await.is_some());
        let (status, reason) = post("{not json".into()).await;
        assert_eq!((status, reason.starts_with("malformed event")), (400, true));
        let (status, reason) = post(EVENT.replace("info", "debug")).await;
        assert_eq!(
            (status, reason.contains("neither info nor error")),
            (400, true)
        );
        let (status, reason) = post(" ".repeat(MAX_EVENT_BYTES + 1)).await;
        assert_eq!((status, reason.contains("larger than")), (400, true));
    }
}

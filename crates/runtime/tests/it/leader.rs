//! Two replicas: exactly one leads; the other takes over when the leader dies,
//! at once when it releases the Lease on a graceful stop.

use std::time::{Duration, Instant};

use ferroflux_runtime::leader::{Elector, Timings};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get("source-controller-leader-election")
        .await
        .ok()?
        .spec?
        .holder_identity
}

async fn finishes_within<T>(
    task: &mut tokio::task::JoinHandle<T>,
    limit: Duration,
    what: &str,
) -> T {
    tokio::time::timeout(limit, task)
        .await
        .unwrap_or_else(|_| panic!("{what} within {limit:?}"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_another_takes_over_when_it_dies_or_releases() {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client = cp.client().await.unwrap();
    let ns = ferroflux_testenv::namespace(&client, "leader")
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let fast = Timings {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let lease = "source-controller-leader-election";
    let a = Elector::new(client.clone(), &ns, lease, "replica-a", fast);
    let b = Elector::new(client.clone(), &ns, lease, "replica-b", fast);

    let leading_a = a.acquire().await;
    let mut b_task = tokio::spawn(async move { b.acquire().await });

    // While A renews, B keeps waiting: watch A renew the Lease several times.
    let first_renewal = leases
        .get(lease)
        .await
        .unwrap()
        .spec
        .unwrap()
        .renew_time
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut renewals = 0;
    let mut last = first_renewal;
    while renewals < 5 {
        let spec = leases.get(lease).await.unwrap().spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
        if spec.renew_time.as_ref() != Some(&last) {
            renewals += 1;
            last = spec.renew_time.unwrap();
        }
        assert!(Instant::now() < deadline, "replica-a did not keep renewing");
        // Sampling interval of a loop bounded by the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !b_task.is_finished(),
        "replica-b became leader while replica-a was renewing"
    );

    // A dies without releasing: B takes over once the Lease expires.
    leading_a.abandon();
    let leading_b =
        finishes_within(&mut b_task, Duration::from_secs(10), "replica-b takes over").await;
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-b"));
    assert_eq!(
        leases
            .get(lease)
            .await
            .unwrap()
            .spec
            .unwrap()
            .lease_transitions,
        Some(1)
    );

    // B stops gracefully and releases: C takes over before B's Lease could
    // expire (B renewed at most 200 ms ago and its Lease lasts 3 s, so only the
    // release lets C in within 2 s).
    let slow = Timings {
        lease_duration: Duration::from_secs(60),
        ..fast
    };
    let c = Elector::new(client.clone(), &ns, lease, "replica-c", slow);
    let mut c_task = tokio::spawn(async move { c.acquire().await });
    leading_b.release().await;
    let leading_c = finishes_within(
        &mut c_task,
        Duration::from_secs(5),
        "replica-c takes over after the release",
    )
    .await;
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-c"));
    leading_c.release().await;
}

/// Issue 15, defect 8: expiry compared another pod's `renewTime` with this
/// process's clock, so a holder whose clock runs an hour behind looked
/// expired while it kept renewing, and its Lease was taken from it. Expiry
/// now follows observed change: the Lease is taken only once its record
/// stops changing for a lease duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_renewed_with_a_skewed_clock_is_not_taken() {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};
    use kube::api::{ObjectMeta, PostParams};

    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client = cp.client().await.unwrap();
    let ns = ferroflux_testenv::namespace(&client, "leader-skew")
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease = "skewed-lease";
    let hour_ago = || MicroTime(Timestamp::now() - SignedDuration::from_hours(1));
    let record = |renewed: MicroTime| LeaseSpec {
        holder_identity: Some("skewed-holder".into()),
        lease_duration_seconds: Some(2),
        acquire_time: Some(hour_ago()),
        renew_time: Some(renewed),
        lease_transitions: Some(0),
        ..LeaseSpec::default()
    };
    leases
        .create(
            &PostParams::default(),
            &Lease {
                metadata: ObjectMeta {
                    name: Some(lease.into()),
                    ..ObjectMeta::default()
                },
                spec: Some(record(hour_ago())),
            },
        )
        .await
        .unwrap();
    let fast = Timings {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    let candidate = Elector::new(client.clone(), &ns, lease, "candidate", fast);
    let mut task = tokio::spawn(async move { candidate.acquire().await });
    // The holder renews every 200 ms for 5 s (2.5 lease durations), each
    // time with a renewTime an hour old by this clock.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let mut current = leases.get(lease).await.unwrap();
        current.spec = Some(record(hour_ago()));
        leases
            .replace(lease, &PostParams::default(), &current)
            .await
            .unwrap();
        assert!(
            !task.is_finished(),
            "the candidate took a Lease its holder kept renewing"
        );
        // The holder's renewal period, in a loop bounded by `until`.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The holder stops renewing: after a lease duration unchanged, it is taken.
    let leading = finishes_within(
        &mut task,
        Duration::from_secs(10),
        "the candidate takes the abandoned Lease",
    )
    .await;
    let spec = leases.get(lease).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("candidate"));
    assert_eq!(spec.lease_transitions, Some(1));
    leading.release().await;
}

/// Issue 15, defect 8: after losing the Lease, the process waited up to
/// 30 s for its in-flight reconciles, which went on writing while another
/// replica led. Now the loop is aborted at once and the process is told to
/// exit: here the "controller" never finishes by itself, so only the abort
/// lets `run_until_shutdown` return well before those 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_lease_aborts_in_flight_work_at_once() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;
    use kube::api::PostParams;

    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client = cp.client().await.unwrap();
    let ns = ferroflux_testenv::namespace(&client, "leader-lost")
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease = "lost-lease";
    let fast = Timings {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let leading = Elector::new(client.clone(), &ns, lease, "replica-a", fast)
        .acquire()
        .await;
    // A reconcile that would run for ever, holding the loop.
    let in_flight = tokio::spawn(std::future::pending::<()>());
    let (stop, _stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = tokio::spawn(async move {
        ferroflux_runtime::process::run_until_shutdown(
            Some(leading),
            lease,
            &stop,
            in_flight,
            Vec::new(),
        )
        .await
    });
    // Another replica takes the Lease.
    let mut taken = leases.get(lease).await.unwrap();
    let spec = taken.spec.as_mut().unwrap();
    spec.holder_identity = Some("replica-b".into());
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    leases
        .replace(lease, &PostParams::default(), &taken)
        .await
        .unwrap();
    let result = finishes_within(
        &mut shutdown,
        Duration::from_secs(10),
        "run_until_shutdown returns on the loss of the Lease, without the 30 s grace",
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ferroflux_runtime::process::Error::LostLeadership { lease } if lease == "lost-lease"),
        "{err}"
    );
}

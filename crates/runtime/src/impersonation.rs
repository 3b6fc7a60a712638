//! Clients acting as a tenant's ServiceAccount, as Flux's controllers make them for
//! `spec.serviceAccountName` and `--default-service-account`: the controller's own client
//! configuration, impersonating `system:serviceaccount:<namespace>:<name>`, so what the tenant's
//! object makes the controller do is limited to what that account may do.

/// A client impersonating ServiceAccount `account` of `namespace`, from the controller's own
/// configuration.
///
/// # Errors
/// The configuration does not make a client (its TLS settings, say).
pub fn service_account_client(
    config: &kube::Config,
    namespace: &str,
    account: &str,
) -> Result<kube::Client, kube::Error> {
    let mut config = config.clone();
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{account}"));
    kube::Client::try_from(config)
}

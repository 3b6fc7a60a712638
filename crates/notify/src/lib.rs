//! Flux's notification formats, as a library without I/O, shared by the
//! notification-controller and the fuzz targets: what each Provider type
//! is sent for an event ([`providers`]), the event metadata it sees
//! ([`metadata`]), and the HMAC signatures of webhooks ([`signature`]).

pub mod metadata;
pub mod providers;
pub mod signature;

//! Integration tests of the test control plane itself: start-up, teardown, and
//! cleanup when the process that started it dies.

mod lifecycle;

mod adapt;
mod adoption;
mod bounds;
mod bus;
mod canary_workflow;
mod check;
mod cli;
mod gate_e2e;
mod ingest;
mod intent;
mod notify;
mod pipelines;
mod prom_support;
mod prometheus;
/// The notification tests' webhook receiver, shared with the server's tests.
#[path = "../../../server/tests/it/receiver.rs"]
mod receiver;
mod report;
mod rightsize;
mod serve;
mod sync_github;
mod threat;
/// The generated utilisation history of bearing-metrics' tests.
#[path = "../../../metrics/tests/it/usage_history.rs"]
mod usage_history;
mod workflow;

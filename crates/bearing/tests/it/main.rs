mod intent;
mod adapt;
mod workflow;
mod ingest;
mod report;
mod serve;

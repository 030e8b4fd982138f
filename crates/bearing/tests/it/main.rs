mod intent;
mod adapt;
mod workflow;
mod ingest;
mod report;
mod check;
mod serve;

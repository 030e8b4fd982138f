mod adapt;
mod check;
mod ingest;
mod intent;
mod report;
mod serve;
mod workflow;

mod adapt;
mod check;
mod cli;
mod ingest;
mod intent;
mod report;
mod serve;
mod workflow;

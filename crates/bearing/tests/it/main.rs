mod intent;
mod adapt;
mod workflow;

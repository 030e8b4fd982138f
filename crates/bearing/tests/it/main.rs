mod intent;
mod adapt;

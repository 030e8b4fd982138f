mod intent;

"""The producer side: submit files as messages, follow jobs, backfill history, redrive the DLQ."""

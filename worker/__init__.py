"""The scoring worker: long-polls SQS, scores reviews with a SavedModel, writes results to S3."""

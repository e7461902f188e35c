"""audioval ingest service: UploadTrack -> Kinesis chunk records + SQS FIFO manifest."""

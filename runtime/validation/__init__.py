"""ValidationPipeline: S3 file -> Step Functions Distributed Map -> DynamoDB or dead letters."""

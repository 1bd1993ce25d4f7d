"""DevOps tools built on the EC2 API only (boto3 clients): they run against
amiable and against real AWS alike."""

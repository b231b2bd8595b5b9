"""IAM enforcement: which permission a call needs, how policies decide, the botocore guard."""

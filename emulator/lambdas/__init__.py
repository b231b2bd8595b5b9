"""Lambda functions in process: archives unpacked to directories, handlers run isolated."""

"""The Lambda-style runtime: polls SQS queues over HTTP, runs Python handlers in warm
worker processes, deletes what succeeded. Talks to any SQS endpoint (ekiden or AWS);
never imports the store or the server."""

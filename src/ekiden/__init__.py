"""ekiden: a durable, self-hosted message broker that speaks the Amazon SQS wire protocols."""

__version__ = "0.1.0"

"""Mail that is never lost: an outbox in PostgreSQL, a background sender, and the transports
it hands messages to (SMTP, or the log in development)."""

"""Account recovery by email: password reset and email verification links, their tokens, and
the messages that carry them (docs/contract.md, Account recovery)."""

"""keygate: an async authentication service with a Redis auth cache in front of PostgreSQL."""

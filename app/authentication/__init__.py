"""Who is calling: transports read credentials from the Authorization header, strategies turn
them into one Principal, and the Authenticator composes them."""

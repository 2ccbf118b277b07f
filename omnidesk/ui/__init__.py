"""What every screen shares: signing in as an agent, HTMX requests, form errors (no models, no app)."""

"""Storage adapters: SQLAlchemy implementations of the ports, and the only SQL."""

"""The escrow's HTTP API: `create_app(settings, services)` builds it; nothing is global."""

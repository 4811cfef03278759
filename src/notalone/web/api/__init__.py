"""The JSON API routers, one module per area, each built by a function (no globals)."""

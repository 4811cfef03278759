"""Pure cryptographic functions on bytes, built on audited libraries; no I/O, no globals.

Nothing in this package imports from above it (protocol, services, adapters).
"""

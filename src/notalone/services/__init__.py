"""Use cases: the rules of the escrow, on ports that storage implements."""

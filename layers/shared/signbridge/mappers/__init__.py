"""Pure functions from the canonical order to each destination's request."""

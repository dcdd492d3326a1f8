"""One model per boundary: Sign Customiser, the platform's canonical order, each destination, stored items."""

"""Layer 7, figures: every matplotlib figure of the package (besides the env's renderer) lives here."""

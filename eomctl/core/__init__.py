"""Layer 1, the ground: errors, physical constants, resource paths, atomic file I/O and the task executor."""

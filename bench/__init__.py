"""The Integration API benchmark (see README.md)."""

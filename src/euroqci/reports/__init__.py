"""Figures, maps and reports (matplotlib is imported inside functions)."""

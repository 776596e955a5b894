"""Figures, maps and HTML reports; matplotlib is imported inside the functions that draw."""

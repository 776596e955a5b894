"""QKD device emulator: Monte Carlo detection records for Alice and Bob, and their file format."""

"""Key-rate models: decoy-state BB84, entanglement-based BBM92, twin-field QKD, bounds."""

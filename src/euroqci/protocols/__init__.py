"""Key-rate models: PLOB, decoy-state BB84 (asymptotic and finite key), BBM92, TF-QKD."""

"""Link physics: channels, sources and detectors turned into transmittance and click models."""

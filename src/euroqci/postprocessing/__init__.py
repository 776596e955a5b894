"""Classical post-processing: raw detections -> identical secret keys at Alice and Bob.

Sifting, parameter estimation, error correction (Cascade, LDPC), verification, privacy
amplification and message authentication. ``pipeline.distill_key`` is the safe recipe.
"""

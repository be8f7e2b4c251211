"""What the pipeline's training step does that its memory depends on, in one torch-free place.

The pipeline imports these (``pipeline/loss.py`` chunks its loss by ``LOSS_CHUNK_TOKENS``) and the
estimator models them, so the two cannot drift apart.
"""

from __future__ import annotations

# Tokens whose logits ChunkedCausalLMLoss projects at once (each chunk is recomputed in the backward).
LOSS_CHUNK_TOKENS = 256

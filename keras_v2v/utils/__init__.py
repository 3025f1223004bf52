"""Small helpers every room uses: safe file writing (`files`) and resource limits (`limits`).

Nothing here imports another part of keras_v2v or a Keras backend.
"""

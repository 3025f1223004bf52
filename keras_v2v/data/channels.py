"""Grey <-> RGB for the readers: the rule of `keras_v2v.utils.channels`, converted as frames decode."""

from keras_v2v.utils.channels import grey_into, to_channels  # noqa: F401

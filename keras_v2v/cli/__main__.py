"""`python -m keras_v2v.cli`: the `keras-v2v` command."""

import sys

from keras_v2v.cli import main

sys.exit(main())

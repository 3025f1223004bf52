"""The history pool of generated samples (Shrivastava et al., as in CycleGAN).

The discriminators see a mix of the newest fakes and fakes from earlier
steps, which damps oscillation. The pool lives in non-trainable variables
and uses a seeded `keras.random.SeedGenerator`, so it is part of the model
state on every backend (and a stateless update under JAX).
"""

import keras
from keras import ops

from keras_v2v.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class HistoryPool(keras.layers.Layer):
    """Holds up to `size` samples of shape `sample_shape` (one frame or clip).

    `query(batch)` returns a batch of the same shape: while the pool fills,
    the input samples (which are stored); once full, each sample is, with
    probability 1/2, swapped for a random stored one (which it replaces).
    `size=0` returns the batch unchanged.
    """

    def __init__(self, size, sample_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="pool_seed")
        if self.size:
            self.buffer = self.add_weight(
                shape=(self.size,) + self.sample_shape,
                initializer="zeros",
                trainable=False,
                name="buffer",
            )
            self.count = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False, name="count"
            )
        self.built = True

    def query(self, samples):
        samples = ops.cast(samples, "float32")
        if not self.size:
            return samples
        if tuple(samples.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"The history pool holds samples of shape {self.sample_shape} "
                f"(the model's input_shape) but got a batch of shape "
                f"{tuple(samples.shape)}. Train on batches of the input_shape the "
                "model was built with, or compile with pool_size=0."
            )
        batch = ops.shape(samples)[0]
        count = self.count.value
        positions = ops.arange(batch, dtype="int32")
        # Slots still empty are filled in order; after that each sample is
        # swapped, with probability 1/2, for a random stored one.
        not_full = ops.less(count + positions, self.size)
        coins = keras.random.uniform((batch,), seed=self.seed_generator)
        random_slots = keras.random.randint((batch,), 0, self.size, seed=self.seed_generator, dtype="int32")
        swap = ops.logical_and(ops.logical_not(not_full), coins > 0.5)
        slots = ops.where(not_full, count + positions, random_slots)
        stored = ops.take(self.buffer.value, slots, axis=0)
        broadcast = (-1,) + (1,) * len(self.sample_shape)
        outputs = ops.where(ops.reshape(swap, broadcast), stored, samples)
        # Several samples may land on one slot. The scatter below must not depend on the
        # order a backend (or a sharded program) applies duplicates in, so every row for
        # a slot carries the same value: the last writing sample's, or the old value.
        write = ops.logical_or(not_full, swap)
        same_slot = ops.logical_and(ops.equal(slots[:, None], slots[None, :]), write[None, :])
        last_writer = ops.max(ops.where(same_slot, positions[None, :], -1), axis=1)
        winners = ops.take(samples, ops.maximum(last_writer, 0), axis=0)
        updates = ops.where(ops.reshape(last_writer >= 0, broadcast), winners, stored)
        self.buffer.assign(ops.scatter_update(self.buffer.value, slots[:, None], updates))
        added = ops.sum(ops.cast(not_full, "int32"))
        self.count.assign(ops.minimum(count + added, self.size))
        return outputs

    # The sampling RNG is saved with the buffer so a resumed run draws what
    # the uninterrupted run would have drawn.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_state"] = keras.ops.convert_to_numpy(self.seed_generator.state.value)

    def load_own_variables(self, store):
        seed_state = store["seed_state"] if "seed_state" in store else None
        own = {k: store[k] for k in store.keys() if k != "seed_state"}
        super().load_own_variables(own)
        if seed_state is not None:
            self.seed_generator.state.assign(seed_state)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "sample_shape": self.sample_shape,
            "seed": self.seed,
        }

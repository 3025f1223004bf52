"""`CycleGAN`: two generators, two discriminators, the paper's losses, fit and translate.

The loss maths lives here once, written with keras.ops; the backend-specific
part of `train_step` (how gradients are taken) lives in `trainers/`.
"""

import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_v2v.models import conv_ops, inference, losses
from keras_v2v.models.layers import PACKAGE
from keras_v2v.models.networks import call_stacked, stackable
from keras_v2v.models.optimizers import PairedOptimizer
from keras_v2v.models.pool import HistoryPool
from keras_v2v.models.trainers import BackendTrainer, inference_mode
from keras_v2v.models.translate_forward import translation_forward

METRIC_NAMES = (
    "g_loss",
    "d_loss",
    "cycle_loss",
    "identity_loss",
    "temporal_loss",
    "warp_loss",
    "adv_a2b",
    "adv_b2a",
    "d_a_loss",
    "d_b_loss",
)
DIRECTIONS = ("a2b", "b2a")
MOTION_KEYS = ("flow_a", "mask_a", "flow_b", "mask_b")


def _default_optimizer():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CycleGAN(BackendTrainer, keras.Model):
    """Unpaired translator between domains A and B (Zhu et al.; paper sec. 3).

    Args:
        generator_a2b, generator_b2a: networks mapping A->B and B->A.
        discriminator_a, discriminator_b: PatchGANs judging A and B samples.
        input_shape: one training sample of domain A: (H, W, C) for a 2D
            (framewise) model, (D, H, W, C) for a 3D model. It sets the history
            pool's sample shape and, for 3D, the window `translate` slides.
        channels_b: channels of domain B (default: same as A).
        domains: names of domains A and B, for cards and messages.
    """

    def __init__(
        self,
        generator_a2b,
        generator_b2a,
        discriminator_a,
        discriminator_b,
        input_shape,
        channels_b=None,
        domains=("a", "b"),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator_a2b = generator_a2b
        self.generator_b2a = generator_b2a
        self.discriminator_a = discriminator_a
        self.discriminator_b = discriminator_b
        for network in (generator_a2b, generator_b2a, discriminator_a, discriminator_b):
            conv_ops.accelerate(network)  # loaded networks hold plain Conv3D layers
        self.sample_shape = tuple(int(s) for s in input_shape)
        if len(self.sample_shape) not in (3, 4):
            raise ValueError(
                "`input_shape` must be (H, W, C) for a 2D model or (D, H, W, C) for "
                f"a 3D model, got {input_shape!r}."
            )
        self.channels_a = self.sample_shape[-1]
        self.channels_b = int(channels_b or self.channels_a)
        self.domains = tuple(domains)
        self.trackers = [keras.metrics.Mean(name=n) for n in METRIC_NAMES]
        self.pool_a = self.pool_b = None
        self.loss_config = None
        # The four networks arrive built; there is nothing left to build here.
        self.built = True

    # ------------------------------------------------------------------ info
    @property
    def rank(self):
        """2 for a framewise model, 3 for a spatio-temporal one."""
        return len(self.sample_shape) - 1

    @property
    def generators(self):
        return [self.generator_a2b, self.generator_b2a]

    @property
    def discriminators(self):
        # None when loaded for inference only (`from_pretrained(..., discriminators=False)`).
        return [d for d in (self.discriminator_a, self.discriminator_b) if d is not None]

    @property
    def generator_variables(self):
        return [v for g in self.generators for v in g.trainable_variables]

    @property
    def discriminator_variables(self):
        return [v for d in self.discriminators for v in d.trainable_variables]

    @property
    def metrics(self):
        return list(self.trackers)

    def call(self, inputs, training=False):
        return self.generator_a2b(inputs, training=training)

    # --------------------------------------------------------------- compile
    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        gan_loss="lsgan",
        lambda_cycle=10.0,
        lambda_identity=0.5,
        lambda_temporal=0.0,
        lambda_warp=0.0,
        pool_size=50,
        seed=None,
        conv_precision="float32",
        **kwargs,
    ):
        """Sets optimizers and loss weights.

        Args:
            generator_optimizer, discriminator_optimizer: default
                Adam(2e-4, beta_1=0.5) each, as in CycleGAN. Use
                `keras_v2v.HoldThenLinearDecay` as their learning rate for
                the reference schedule.
            gan_loss: "lsgan" (CycleGAN default) or "vanilla" (paper eq. 1).
            lambda_cycle: weight of the L1 cycle loss (gamma in eq. 1).
            lambda_identity: identity loss weight, relative to lambda_cycle
                (as in CycleGAN); ignored with a warning when A and B have
                different channel counts.
            lambda_temporal: weight of the "const" penalty (eq. 2) on
                consecutive frames of a sequential batch (2D) or of a clip (3D).
                It rewards a still output; `lambda_warp` does not.
            lambda_warp: weight of the warping loss (`losses.warp_loss`, 3D only): each
                output frame warped along the *input's* optical flow onto the next.
                Batches must then carry the flows: dicts with "flow_a", "mask_a",
                "flow_b", "mask_b" (`UnpairedVideoDataset(..., flows=True)` makes them).
            pool_size: history pool size per domain; 0 disables it.
            seed: seeds the pool's sampling.
            conv_precision: "float32", or "bfloat16": training steps convolve bfloat16
                copies of float32 activations and weights (`conv_ops.precision`); the
                variables, norms, losses and updates stay float32, and evaluation and
                `translate` compute in float32. Convolutions with their gradients ran 1.4-1.7x
                faster on a CPU with AVX512-BF16 (TensorFlow; GPUs not measured); slower where
                bfloat16 is emulated (a warning says so).
            **kwargs: passed to `keras.Model.compile` (run_eagerly,
                jit_compile, steps_per_execution).
        """
        for name in ("optimizer", "loss", "metrics"):
            if kwargs.get(name) is not None:
                raise ValueError(
                    f"CycleGAN.compile() takes generator_optimizer and "
                    f"discriminator_optimizer and defines its own losses; got `{name}`."
                )
            kwargs.pop(name, None)
        if lambda_identity and self.channels_a != self.channels_b:
            warnings.warn(
                f"Domains have {self.channels_a} and {self.channels_b} channels, so "
                "the identity loss is undefined; using lambda_identity=0.",
                stacklevel=2,
            )
            lambda_identity = 0.0
        for name, value in (
            ("lambda_cycle", lambda_cycle),
            ("lambda_identity", lambda_identity),
            ("lambda_temporal", lambda_temporal),
            ("lambda_warp", lambda_warp),
            ("pool_size", pool_size),
        ):
            if value < 0:
                raise ValueError(f"`{name}` must be >= 0, got {value}.")
        if conv_precision not in conv_ops.CONV_PRECISIONS:
            raise ValueError(f"`conv_precision` must be one of {', '.join(conv_ops.CONV_PRECISIONS)}, "
                             f"got {conv_precision!r}.")
        if conv_precision == "bfloat16" and conv_ops.bfloat16_is_native() is False:
            warnings.warn("conv_precision='bfloat16' on a CPU without bfloat16 instructions (AVX512-BF16 or "
                          "AMX): its convolutions are emulated and slower than float32.", stacklevel=2)
        if len(self.discriminators) < 2:
            raise ValueError(
                f"{self.name} has no discriminators (loaded with `discriminators=False` for inference); "
                "reload it with `from_pretrained(..., discriminators=True)` to train it."
            )
        self.loss_config = {
            "gan_loss": losses.check_gan_loss(gan_loss),
            "lambda_cycle": float(lambda_cycle),
            "lambda_identity": float(lambda_identity),
            "lambda_temporal": float(lambda_temporal),
            "lambda_warp": float(lambda_warp),
            "pool_size": int(pool_size),
            "seed": seed,
            "conv_precision": conv_precision,
        }
        optimizer = PairedOptimizer(
            generator_optimizer or _default_optimizer(),
            discriminator_optimizer or _default_optimizer(),
        )
        optimizer.set_generator_variables(self.generator_variables)
        self._make_pools(int(pool_size), seed)
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def _make_pools(self, size, seed):
        shape_a = self.sample_shape
        shape_b = shape_a[:-1] + (self.channels_b,)
        if self.pool_a is not None and self.pool_a.size == size:
            return
        # Pools are training state added at compile time, after the networks
        # exist, so Keras' state tracking may need to be reopened for them.
        was_locked = self._tracker.locked
        if was_locked:
            self._tracker.unlock()
        seed_b = None if seed is None else seed + 1
        self.pool_a = HistoryPool(size, shape_a, seed=seed, name="pool_a")
        self.pool_b = HistoryPool(size, shape_b, seed=seed_b, name="pool_b")
        if was_locked:
            self._tracker.lock()

    def get_compile_config(self):
        if self.loss_config is None:
            return None
        return {
            **self.loss_config,
            "generator_optimizer": keras.optimizers.serialize(
                self._paired_optimizer.generator_optimizer
            ),
            "discriminator_optimizer": keras.optimizers.serialize(
                self._paired_optimizer.discriminator_optimizer
            ),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("generator_optimizer", "discriminator_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)

    @property
    def _paired_optimizer(self):
        optimizer = self.optimizer
        # Under mixed_float16 Keras wraps ours in a LossScaleOptimizer.
        return getattr(optimizer, "inner_optimizer", optimizer)

    # ------------------------------------------------------------ the losses
    def _check_compiled(self):
        if self.loss_config is None:
            raise RuntimeError("Call `compile()` before training or evaluating the CycleGAN.")

    def _unpack(self, data):
        """(a, b, motion) from what fit/evaluate hand to train_step; motion: the input flows or None."""
        if isinstance(data, dict):
            motion = {k: data[k] for k in MOTION_KEYS if k in data}
            return data["a"], data["b"], motion or None
        while isinstance(data, (tuple, list)) and len(data) == 1:
            data = data[0]
        if isinstance(data, (tuple, list)) and len(data) >= 2:
            return data[0], data[1], None
        raise ValueError(
            "CycleGAN expects each batch to be a pair (a_batch, b_batch) or a dict "
            f"with keys 'a' and 'b'; got {type(data).__name__}."
        )

    def _temporal_axis(self):
        # 2D sequential batches hold consecutive frames along the batch axis.
        return 0 if self.rank == 2 else 1

    def _stacks(self, *batches):
        """Whether one network may take `batches` in one call (see `networks.call_stacked`).

        Asked for by a backend trainer (`stack_independent_calls = True`: torch).
        """
        if not getattr(self, "stack_independent_calls", False):
            return False
        return stackable(self.generators + self.discriminators, batches)

    def generator_objective(self, a, b, training=True, motion=None):
        """Generators' total loss, logs, and this step's fakes (fake_a, fake_b).

        `motion`: the input clips' flows and visibility masks (see `compile(lambda_warp=...)`).
        """
        with self._conv_precision(training):
            return self._generator_objective(a, b, training, motion)

    def _conv_precision(self, training):
        # Training steps only: validation and translate see the float32 model.
        return conv_ops.precision(self.loss_config.get("conv_precision") if training else None)

    def _generator_objective(self, a, b, training, motion):
        cfg = self.loss_config
        gan = cfg["gan_loss"]
        same_b = same_a = None
        if cfg["lambda_identity"] and self._stacks(a, b):
            # Translation and identity mapping of each generator in one call.
            fake_b, same_b = call_stacked(self.generator_a2b, [a, b], training)
            fake_a, same_a = call_stacked(self.generator_b2a, [b, a], training)
        else:
            fake_b = self.generator_a2b(a, training=training)
            fake_a = self.generator_b2a(b, training=training)
        cycle = losses.l1_loss(self.generator_b2a(fake_b, training=training), a)
        cycle = cycle + losses.l1_loss(self.generator_a2b(fake_a, training=training), b)
        adv_a2b = losses.generator_adversarial_loss(self.discriminator_b(fake_b, training=training), gan)
        adv_b2a = losses.generator_adversarial_loss(self.discriminator_a(fake_a, training=training), gan)
        zero = ops.zeros((), "float32")
        identity = temporal = warped = zero
        if cfg["lambda_identity"]:
            if same_b is None:
                same_b, same_a = self.generator_a2b(b, training=training), self.generator_b2a(a, training=training)
            identity = losses.l1_loss(same_b, b) + losses.l1_loss(same_a, a)
        if cfg["lambda_temporal"]:
            axis = self._temporal_axis()
            seq_a, seq_b = fake_a, fake_b
            if axis == 0:
                # A 2D sequence is split over replicas (tf.distribute): gather it so the
                # frame pairs across the split count, as on one device.
                seq_a, seq_b = self.gather_replicas(fake_a), self.gather_replicas(fake_b)
            temporal = losses.temporal_penalty(seq_b, axis) + losses.temporal_penalty(seq_a, axis)
        if cfg.get("lambda_warp"):
            if self.rank != 3 or not motion:
                raise ValueError("lambda_warp > 0 needs a 3D model and batches carrying the input flows "
                                 "(dicts with flow_a, mask_a, flow_b, mask_b: UnpairedVideoDataset(flows=True))")
            # fake_b follows a's motion, fake_a follows b's.
            warped = (losses.warp_loss(fake_b, motion["flow_a"], motion["mask_a"])
                      + losses.warp_loss(fake_a, motion["flow_b"], motion["mask_b"]))
        total = (
            adv_a2b
            + adv_b2a
            + cfg["lambda_cycle"] * cycle
            + cfg["lambda_cycle"] * cfg["lambda_identity"] * identity
            + cfg["lambda_temporal"] * temporal
            + cfg.get("lambda_warp", 0.0) * warped
        )
        logs = {
            "g_loss": total,
            "cycle_loss": cycle,
            "identity_loss": identity,
            "temporal_loss": temporal,
            "warp_loss": warped,
            "adv_a2b": adv_a2b,
            "adv_b2a": adv_b2a,
        }
        return total, logs, fake_a, fake_b

    def pooled_fakes(self, fake_a, fake_b):
        """Detached fakes mixed with earlier ones from the history pools.

        There is one pool per domain for the global batch: under tf.distribute
        every replica queries it with all replicas' fakes (same pool, same RNG
        draws, so the copies stay identical) and keeps its own rows. A run on N
        devices thus draws what a 1-device run draws, and a checkpoint holds one
        pool whatever the device count. (keras.distribution steps see the global
        batch already.)
        """
        fake_a, fake_b = ops.stop_gradient(fake_a), ops.stop_gradient(fake_b)
        if not self.pool_a.size:
            return fake_a, fake_b
        pooled_a = self.pool_a.query(self.gather_replicas(fake_a))
        pooled_b = self.pool_b.query(self.gather_replicas(fake_b))
        return self.this_replica(pooled_a, fake_a), self.this_replica(pooled_b, fake_b)

    def discriminator_objective(self, a, b, fake_a, fake_b, training=True):
        gan = self.loss_config["gan_loss"]
        outputs = []
        with self._conv_precision(training):
            for network, real, fake in ((self.discriminator_a, a, fake_a), (self.discriminator_b, b, fake_b)):
                if self._stacks(real, fake):
                    outputs += call_stacked(network, [real, fake], training)
                else:
                    outputs += [network(real, training=training), network(fake, training=training)]
        d_a = losses.discriminator_loss(outputs[0], outputs[1], gan)
        d_b = losses.discriminator_loss(outputs[2], outputs[3], gan)
        return d_a + d_b, {"d_loss": d_a + d_b, "d_a_loss": d_a, "d_b_loss": d_b}

    def evaluation_logs(self, a, b, motion=None):
        """All losses without updating anything (validation)."""
        _, g_logs, fake_a, fake_b = self.generator_objective(a, b, training=False, motion=motion)
        _, d_logs = self.discriminator_objective(a, b, fake_a, fake_b, training=False)
        return {**g_logs, **d_logs}

    def record(self, logs):
        for tracker in self.trackers:
            tracker.update_state(logs[tracker.name])
        return {t.name: t.result() for t in self.trackers}

    # ------------------------------------------------------------- inference
    def translate(self, video, direction="a2b", window=None, overlap=None, batch_size=8, progress=None):
        """Translates a video, clip or volume; numpy in, numpy out.

        Args:
            video: (T, H, W, C) or a batch (N, T, H, W, C); uint8 in [0, 255]
                or float in [0, 1]. Any T >= 1 and any H, W. Grey (C=1) and
                RGB (C=3) are converted to the source domain's channels (RGB ->
                grey: BT.601 luma; grey -> RGB: the channel repeated), as the CLI
                and the demo do. Not a path: read files with
                `keras_v2v.data.read_video` / `read_volume` first.
            direction: "a2b" or "b2a".
            window: 3D models: frames per window (default: the training
                depth). Longer videos are covered by overlapping windows whose
                outputs are blended with tapered weights, so there are no seams.
            overlap: frames shared by neighbouring windows (default window // 2).
            batch_size: frames (2D) or windows (3D) per forward pass; memory
                use is bounded by it, whatever T is.
            progress: optional callable(done, total) called after each batch.

        Returns:
            The translation with the input's shape and dtype, in the target
            domain's channels.
        """
        if isinstance(video, (str, bytes, os.PathLike)):
            # Models read no files (the data layer does): say which reader to use.
            path = os.fsdecode(video)
            raise ValueError(
                f"`video` is the path {path!r}, but translate takes arrays: read it first with "
                f"keras_v2v.data.read_video({path!r}) (videos, GIFs; read_frames for a PNG folder) or "
                f"keras_v2v.data.read_volume({path!r}) (NIfTI, DICOM), or run "
                f"`keras-v2v translate {path} out.mp4 --model PRESET`."
            )
        if direction not in DIRECTIONS:
            raise ValueError(f"`direction` must be one of {DIRECTIONS}, got {direction!r}.")
        generator = self.generator_a2b if direction == "a2b" else self.generator_b2a
        channels = self.channels_a if direction == "a2b" else self.channels_b
        video = inference.check_video(video, channels)
        frames, height, width = video.shape[-4:-1]
        if self.rank == 3:
            depth = self.sample_shape[0]
            if window is not None and window < 1:
                raise ValueError(f"`window` must be >= 1 frame, got {window}.")
            # A window longer than the clip would only mirror it in time: cap it.
            window = min(window or depth, max(frames, depth))
        per_call = batch_size * (window if self.rank == 3 else 1)
        inference.check_memory(generator, per_call, height, width)

        forward = self._compiled_forward(direction)

        def generate(batch):
            with inference_mode():
                out = ops.convert_to_numpy(forward(batch))
            if not np.isfinite(out).all():
                raise ValueError(f"{generator.name} produced NaN or infinite values; its weights are "
                                 "broken (retrain or re-download the preset)")
            return out

        return inference.translate(
            generate,
            video,
            rank=self.rank,
            channels=channels,
            window=window,
            overlap=overlap,
            batch_size=batch_size,
            progress=progress,
        )

    def _compiled_forward(self, direction):
        """The generator's compiled inference call (head folded on TensorFlow), made once per direction and kept."""
        cache = self.__dict__.setdefault("_forward_cache", {})
        if direction not in cache:
            cache[direction] = translation_forward(self.generator_a2b if direction == "a2b" else self.generator_b2a)
        return cache[direction]

    # ---------------------------------------------------------------- config
    def get_config(self):
        return {
            "name": self.name,
            "generator_a2b": keras.saving.serialize_keras_object(self.generator_a2b),
            "generator_b2a": keras.saving.serialize_keras_object(self.generator_b2a),
            "discriminator_a": keras.saving.serialize_keras_object(self.discriminator_a),
            "discriminator_b": keras.saving.serialize_keras_object(self.discriminator_b),
            "input_shape": self.sample_shape,
            "channels_b": self.channels_b,
            "domains": self.domains,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)

    # ---------------------------------------------------------------- presets
    @classmethod
    def from_pretrained(cls, preset, revision=None, token=None, discriminators=True):
        """`keras_v2v.from_pretrained` as a class method (what KerasHub and transformers users type first).

        `preset`: a registered name, a preset folder, "org/repo" or "hf://org/repo".
        """
        from keras_v2v.presets import registry

        model = registry.from_pretrained(preset, revision=revision, token=token, discriminators=discriminators)
        if not isinstance(model, cls):
            raise TypeError(f"{preset}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    from_preset = from_pretrained  # KerasHub's name for the same thing

    def save_pretrained(self, directory, overwrite=False, **kwargs):
        """Writes a preset folder (config.json, weights, README.md); see `keras_v2v.presets.save_pretrained`."""
        from keras_v2v.presets import storage

        return storage.save_pretrained(self, directory, overwrite=overwrite, **kwargs)

    def push_to_hub(self, repo_id, private=False, token=None, **kwargs):
        """Saves a preset and uploads it to a Hugging Face Hub model repo; see `keras_v2v.presets.publish`."""
        from keras_v2v.presets import publish

        return publish.push_to_hub(self, repo_id, private=private, token=token, **kwargs)

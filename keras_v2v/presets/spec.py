"""What keras_v2v.json says about a model: shape, domains, and its networks' parameter counts.

Parameters are counted per network. `model.count_params()` of a compiled
CycleGAN also counts the history pools (`compile` adds them as non-trainable
buffers of up to 50 generated samples per domain), which inflates the number
several times over and is not what a user can fine-tune.
"""

NETWORKS = ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b")


def network_parameters(model):
    """{network: parameters} of the networks the model holds, plus "generators" and "discriminators" sums."""
    counts = {}
    for key in NETWORKS:
        network = getattr(model, key, None)
        if network is not None:
            counts[key] = int(network.count_params())
    return _with_sums(counts)


def _with_sums(counts):
    out = dict(counts)
    for group, keys in (("generators", NETWORKS[:2]), ("discriminators", NETWORKS[2:])):
        if all(k in counts for k in keys):
            out[group] = sum(counts[k] for k in keys)
    return out


def parameter_counts(spec):
    """The per-network counts a keras_v2v.json records, read from any version of the file.

    Files written before per-network counting hold {"generator_a2b", "total"},
    where "total" counted the history pools too: only the generator is kept,
    and "note" says why the rest is missing.
    """
    recorded = (spec or {}).get("parameters")
    if not isinstance(recorded, dict):
        return {}
    counts = {k: recorded[k] for k in NETWORKS
              if isinstance(recorded.get(k), int) and not isinstance(recorded.get(k), bool)}
    out = _with_sums(counts)
    if "total" in recorded and not any(k.startswith("discriminator") for k in counts):
        out["note"] = ("written by an older keras-v2v, whose total also counted the training history pools; "
                       "re-save the preset for per-network counts")
    return out


def generator_parameters(spec):
    """Parameters of one generator (a2b), or None when the file does not say."""
    return parameter_counts(spec).get("generator_a2b")


def discriminator_parameters(spec):
    """Parameters of one discriminator (A), or None when unknown or generators only."""
    return parameter_counts(spec).get("discriminator_a")


def model_spec(model):
    """The keras_v2v.json fields that come from the model itself."""
    return {
        "class": type(model).__name__,
        "rank": model.rank,
        "input_shape": list(model.sample_shape),
        "channels": {"a": model.channels_a, "b": model.channels_b},
        "domains": list(model.domains),
        "value_range": "uint8 [0, 255] or float [0, 1]; the networks see [-1, 1]",
        "parameters": network_parameters(model),
        "generators_only": not model.discriminators,
    }


def config_is_generators_only(config):
    """True for a config.json whose CycleGAN has no discriminators (loaded with discriminators=False)."""
    inner = (config or {}).get("config") or {}
    return "discriminator_a" in inner and inner.get("discriminator_a") is None and inner.get("discriminator_b") is None

"""PyTorch: autograd.grad for each network's loss, one optimizer step for both."""

import torch


def _grads(loss, variables):
    tensors = [v.value for v in variables]
    grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, tensors)]


class BackendTrainer:
    # Independent calls of one network (translation and identity mapping, a discriminator on
    # real and fake) share one call: see CycleGAN._stacks.
    stack_independent_calls = True

    # Keras' torch backend trains on one device: nothing to gather.
    def gather_replicas(self, x):
        return x

    def this_replica(self, global_x, local_x):
        return global_x

    def train_step(self, data):
        self._check_compiled()
        a, b, motion = self._unpack(data)
        optimizer = self.optimizer
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        g_total, g_logs, fake_a, fake_b = self.generator_objective(a, b, motion=motion)
        g_grads = _grads(optimizer.scale_loss(g_total), g_vars)
        fake_a, fake_b = self.pooled_fakes(fake_a, fake_b)
        d_total, d_logs = self.discriminator_objective(a, b, fake_a, fake_b)
        d_grads = _grads(optimizer.scale_loss(d_total), d_vars)
        with torch.no_grad():
            # Both updates use gradients taken at the same weights, as in CycleGAN.
            optimizer.apply(g_grads + d_grads, g_vars + d_vars)
        logs = {k: v.detach() for k, v in {**g_logs, **d_logs}.items()}
        return self.record(logs)

    def test_step(self, data):
        self._check_compiled()
        a, b, motion = self._unpack(data)
        with torch.no_grad():
            return self.record(self.evaluation_logs(a, b, motion))


def compiled_forward(network):
    """Eager under no_grad: torch.compile's start-up (minutes on CPU) would not pay back here."""

    def forward(x):
        with torch.no_grad():
            return network(x, training=False)

    return forward

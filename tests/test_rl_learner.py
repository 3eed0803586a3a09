"""The learner in one process: with `learner.train_layers` only the top layers move and only they are
published to the actors."""

import torch
from test_rl_fsdp import OVERRIDES, make_groups

from golddiff.rl.config import load_train_config
from golddiff.rl.learner import Learner


def test_train_layers_moves_and_publishes_only_the_top_layers():
    cfg = load_train_config("configs/test-tiny.yaml", [*OVERRIDES, "--learner.train_layers=1"])
    learner = Learner(cfg)
    learner.setup()
    before = {k: v.clone() for k, v in learner.full_state_dict().items()}
    learner.train_step(make_groups())
    after = learner.full_state_dict()
    moved = {k for k, v in after.items() if not torch.equal(v, before[k])}
    assert moved and moved <= learner.published_names
    assert learner.published_names == {k for k in before if k.startswith(("model.layers.3.", "model.norm."))}

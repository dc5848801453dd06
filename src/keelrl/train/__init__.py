"""The loops, and only the loops: one run skeleton (skeleton.py) driving the off-policy, on-policy,
offline and multi-seed loops; `train` / `resume` (dispatch.py); checkpoints, logging, evaluation,
callbacks and run settings.

`keelrl.train` is both this package and the function `train`: calling the module calls
`dispatch.train`, so `keelrl.train("sac", run, cfg)` and `import keelrl.train.dispatch` both work.
"""
import sys
import types

from keelrl.train.dispatch import resume, train


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["train", "resume"]

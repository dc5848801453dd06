"""The checks that algorithm Configs share: fields with the same name mean the same thing in every
Config (hidden_sizes, learning rates, batch_size, gamma, tau, log-std bounds), so they are validated
once, here, with the same message. Each Config's __post_init__ calls this, then checks its own fields."""
from __future__ import annotations

from keelrl.errors import check

LEARNING_RATES = ("lr", "actor_lr", "critic_lr", "value_lr", "alpha_lr")


def check_shared_fields(cfg) -> None:
    """Validate (and normalize hidden_sizes to a tuple of ints) whichever shared fields `cfg` has."""
    if hasattr(cfg, "hidden_sizes"):
        cfg.hidden_sizes = tuple(int(h) for h in cfg.hidden_sizes)
        check(len(cfg.hidden_sizes) >= 1 and all(h > 0 for h in cfg.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {cfg.hidden_sizes}")
    for name in LEARNING_RATES:
        if hasattr(cfg, name):
            check(getattr(cfg, name) > 0, f"{name} must be > 0, got {getattr(cfg, name)}")
    if hasattr(cfg, "batch_size"):
        check(cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    if hasattr(cfg, "gamma"):
        check(0.0 <= cfg.gamma <= 1.0, f"gamma must be in [0, 1], got {cfg.gamma}")
    if hasattr(cfg, "tau"):
        check(0.0 < cfg.tau <= 1.0, f"tau must be in (0, 1], got {cfg.tau}")
    if hasattr(cfg, "num_critics"):
        check(cfg.num_critics >= 1, f"num_critics must be >= 1, got {cfg.num_critics}")
    if hasattr(cfg, "log_std_min"):
        check(cfg.log_std_min < cfg.log_std_max,
              f"log_std_min ({cfg.log_std_min}) must be below log_std_max ({cfg.log_std_max})")

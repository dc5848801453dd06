"""Each algorithm page documents every Config field and names functions that exist."""
import re
from dataclasses import fields
from pathlib import Path

import keelrl.algos.sac as sac
from keelrl.algos.sac import SACConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "algorithms"


def test_sac_page_covers_every_config_field():
    page = (DOCS / "sac.md").read_text()
    missing = [f.name for f in fields(SACConfig) if f"`{f.name}`" not in page]
    assert not missing, f"docs/algorithms/sac.md does not mention {missing}"


def test_sac_page_names_real_loss_functions():
    page = (DOCS / "sac.md").read_text()
    named = set(re.findall(r"`(\w+_loss\w*|soft_q_target|backup_values)`", page))
    assert named >= {"critic_loss", "actor_loss_reparametrized", "actor_loss_reinforce", "temperature_loss",
                     "soft_q_target"}
    for name in named:
        assert hasattr(sac, name), name

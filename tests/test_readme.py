"""The README's Python example runs as written (with a smaller training budget)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    small = code.replace("total_steps=5000", "total_steps=300, eval_every=150, eval_episodes=1, progress=False") \
                .replace("SACConfig(learning_starts=1000)", "SACConfig(learning_starts=100, hidden_sizes=(8, 8))")
    assert small != code
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(small, "README.md", "exec"), namespace)
    assert set(namespace["info"]) >= {"loss_q", "loss_pi", "alpha"}
    assert (tmp_path / "runs" / "agent.pt").exists() and (tmp_path / "runs" / "py" / "checkpoint.pt").exists()

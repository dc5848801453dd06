"""The speed machinery, apart from the loops: compiled networks (compiled.py), whole updates replayed
from CUDA graphs (cuda_graph.py), several seeds stacked in one agent (sac_seeds.py) and `keel bench`
(bench.py). A loop asks for its update through `learner_update` (learner.py) and knows nothing else of it."""

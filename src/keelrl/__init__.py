"""keelrl: readable, tested, fast PyTorch reinforcement learning."""
__version__ = "0.1.0"

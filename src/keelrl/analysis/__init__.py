"""Statistics over seeds and plots."""

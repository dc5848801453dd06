"""What the tests of the `keel` command share: the one-line error check and a tiny SAC run's flags."""

TINY = ["--hidden-sizes", "8", "8", "--batch-size", "16", "--learning-starts", "50", "--total-steps", "120",
        "--eval-every", "60", "--eval-episodes", "1", "--no-progress", "--device", "cpu"]
"""`keel train sac` flags for a run of a few seconds."""


def err_line(capsys) -> str:
    """What the command printed to stderr, asserted to be exactly one line (a message, no traceback)."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err

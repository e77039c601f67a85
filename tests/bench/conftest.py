"""The benchmark's own Python (bench/): its modules import each other by name."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

"""Compare the CSVs of two run trees, leaving out the wall-clock columns (wall_s, sps)."""
import csv, sys
from pathlib import Path
a, b = Path(sys.argv[1]), Path(sys.argv[2])
bad = 0
for f in sorted(a.rglob("*.csv")):
    g = b / f.relative_to(a)
    rows = lambda p: [{k: v for k, v in r.items() if k not in ("wall_s", "sps")} for r in csv.DictReader(open(p))]
    ra, rb = rows(f), (rows(g) if g.exists() else None)
    same = ra == rb
    bad += not same
    print(f"{'same' if same else 'DIFFERENT'}  {f.relative_to(a)}  ({len(ra)} rows)")
sys.exit(1 if bad else 0)

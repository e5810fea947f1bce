"""`python -m benchmark.games --out DIR`: the bilinear validation study (benchmark.games.study)."""

import sys

from benchmark.errors import AlibenchError
from benchmark.games.study import main

try:
    sys.exit(main())
except AlibenchError as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)

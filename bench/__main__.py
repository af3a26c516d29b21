"""``python -m bench``: see ``python -m bench --help`` and :mod:`bench.cli`.

BLAS/OpenMP read their thread counts when numpy is first imported, so they are set to 1
here, before anything imports numpy: the evaluation figures are for one core.
"""

import os
import sys

from bench.timing import THREAD_VARIABLES

for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"

from bench.cli import main  # noqa: E402 - after the thread variables, on purpose

if __name__ == "__main__":
    if sys.argv[1:2] == ["learning"]:  # its own arguments: python -m bench learning --help
        from bench.learning.cli import main as learning_main

        sys.exit(learning_main(sys.argv[2:]))
    sys.exit(main())

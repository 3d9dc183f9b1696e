"""`python -m scoring.codabench INPUT_DIR OUTPUT_DIR`: the Codabench scoring program."""

import sys

from scoring.codabench.program import main

if __name__ == "__main__":
    sys.exit(main())

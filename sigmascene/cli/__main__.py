"""`python -m sigmascene.cli ...`: the `sigmascene` command without the console script."""

from . import main

main()

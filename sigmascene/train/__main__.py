"""`python -m sigmascene.train CONFIG [...]`: the trainer as a module, for `accelerate launch -m sigmascene.train`."""

from ..cli.train_cmd import main

if __name__ == "__main__":
    main()

"""`sigmascene eval toyworld`: judge a model on held-out synthetic scenes whose every pixel is known.

The paper's metrics need large external backbones (DINO, SigLIP); the toy world needs none, because the
generator tells us exactly which subject is visible where, how each looks from another side, and which one is
nearer. `world` makes held-out scenes and their full silhouettes, `descriptor` describes toy identities,
`metrics` makes the decisions, `run` renders and scores, `validate` proves each metric on ground truth and on
shuffled identities, `report` writes the table and the plot.
"""

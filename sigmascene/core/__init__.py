"""The ground floor: small helpers every other floor may use (routing vocabulary, atomic file writes, path
confinement, TOML configs, a cache of values kept per object). Nothing here imports anything of sigmascene but
`errors` and `version`."""

"""The sidecar's library: the logic behind the commands in mlops/scripts/, one module per concern."""

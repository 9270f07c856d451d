"""Device profiles shipped with the engine (YAML data files)."""

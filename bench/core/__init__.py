"""The contracts and vocabularies every layer shares: specs, registries, errors, messages."""

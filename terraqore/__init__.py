"""TerraQore Studio's application shell: settings, CLI, server lifecycle and model factory."""

__version__ = "0.1.0"

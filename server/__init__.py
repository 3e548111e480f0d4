"""TerraQore's built-in Ollama-compatible inference server.

The package knows nothing of agents or graphs: it serves GGUF models through
llama.cpp (and one ONNX embedding format) behind Ollama's `/api/*` routes and the
OpenAI-compatible `/v1/*` routes.
"""

__version__ = "0.1.0"

# The Ollama release whose wire behaviour we follow; clients check `/api/version`.
OLLAMA_COMPAT_VERSION = "0.12.6"

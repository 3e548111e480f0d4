"""The client layer, below the agents: how the project reaches a model server.

Settings, the server process, the model factory, the resilient transport, the task router,
the usage log, the OpenAI bridge and the agents' model registration.
"""

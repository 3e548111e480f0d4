"""Compare a .env file with .env.example."""

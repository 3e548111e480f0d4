"""A todo list kept in a JSON file."""

"""Find files with the same content under a folder."""

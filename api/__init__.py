"""propcheck's HTTP API, database access and command line."""

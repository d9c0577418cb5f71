"""What every emulated API shares: SQLite, gRPC and REST error mapping, the clock, call
counts, page tokens, the Monitoring filter language and the Monitoring validation helpers."""

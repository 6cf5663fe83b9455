"""Sans-IO instrument models: bytes in, replies with ready-times out."""

"""The CLOVA Extensions Kit side: signatures, lenient request parsing and responses."""

"""CEK account linking: users' OAuth access tokens, validated, kept briefly, handed to their calls."""

"""cek-proxy: a verified CLOVA Extensions Kit endpoint in front of a CLOVA Chatbot."""

__version__ = "0.1.0"

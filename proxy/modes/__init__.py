"""What the proxy does with a verified CEK request: bridge it to the chatbot, or pass it through."""

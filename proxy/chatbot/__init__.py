"""The NAVER Cloud CLOVA Chatbot side: the signed Custom API, and its bubbles turned into speech."""

# The stub chatbot and stub action backend (test code) as a service image: the proxy image, which
# already holds Python, aiohttp and the proxy package, plus tests/support. Built with tests/ as context.
ARG PROXY_IMAGE
FROM ${PROXY_IMAGE}
COPY __init__.py /opt/cek-proxy/app/tests/__init__.py
COPY support /opt/cek-proxy/app/tests/support
ENTRYPOINT ["python3", "-m", "tests.support.stub_service"]

"""The trust store both HTTP paths verify Dokploy's certificate against (stdlib + certifi).

One declaration, so ``status``'s fast path and the httpx client accept or refuse a certificate
the same way: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi's bundle (httpx's own
default order).
"""

from __future__ import annotations

import os
import ssl


def trust_context() -> ssl.SSLContext:
    """A verifying client context over the trust store the environment selects."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())

"""Every outbound client verifies certificates with one shared context."""

from __future__ import annotations

import ssl

from sportello.connectors.tls import tls_context


def test_the_shared_context_verifies_certificates_and_host_names() -> None:
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded

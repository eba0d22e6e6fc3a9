"""Kubernetes and Helm: the helm binary, the lab chart rendered, linted and validated, a release ledger."""

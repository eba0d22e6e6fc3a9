"""Notebooks 11-13 (Kubernetes objects, Helm charts and their tricks): the values playground and the figures."""

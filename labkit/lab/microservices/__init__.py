"""Notebook 07 (microservices and sagas): the saga timeline, view lag sampling, their figures, and
`labkit bench services`."""

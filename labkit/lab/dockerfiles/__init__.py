"""Notebooks 08-10 (Dockerfiles, build and run, multi-stage builds): the explainer's tables, the ENTRYPOINT x CMD
forms, and the explainer widget."""

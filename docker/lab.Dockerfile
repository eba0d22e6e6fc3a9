# The lab itself: JupyterLab serving the notebooks, on port 8888.
#   docker run -p 8888:8888 -e JUPYTER_TOKEN=choose-one labkit/lab:0.1.0     then open http://localhost:8888/lab
# Build context: prepared by `labkit containers build lab` (the wheelhouse, and the repository's tracked files).
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: every third-party package of the lab, from the wheelhouse, offline.
FROM ${BASE_IMAGE} AS wheels
# Debian bookworm's Python is 3.11.2 and a few pinned wheels ask for a later 3.11.x: the offline base build passes
# --ignore-requires-python here; python:3.11-slim needs nothing.
ARG PIP_INSTALL_OPTIONS=""
COPY third-party/ /wheelhouse/
RUN python3 -m venv /opt/labkit \
    && /opt/labkit/bin/pip install --no-index --no-cache-dir --no-deps --find-links /wheelhouse $PIP_INSTALL_OPTIONS \
        --requirement /wheelhouse/requirements.txt

# Stage 2: the environment, the lab's source and notebooks, a non-root user.
FROM ${BASE_IMAGE} AS lab
COPY --from=wheels /opt/labkit /opt/labkit
RUN groupadd --gid 10001 lab \
    && useradd --uid 10001 --gid lab --create-home --home-dir /home/lab lab
COPY --chown=10001:10001 src/ /home/lab/labkit/
# The checkout is importable as it is in a clone (like `pip install -e`), so labkit finds its notebooks and data.
RUN echo /home/lab/labkit > "$(/opt/labkit/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/labkit-checkout.pth" \
    && printf '#!/opt/labkit/bin/python3\nfrom labkit.cli import main\nraise SystemExit(main())\n' > /opt/labkit/bin/labkit \
    && chmod 755 /opt/labkit/bin/labkit
ENV PATH=/opt/labkit/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SHELL=/bin/bash
LABEL org.opencontainers.image.title="labkit lab" \
      org.opencontainers.image.description="JupyterLab with the labkit notebooks"
USER 10001:10001
WORKDIR /home/lab/labkit
EXPOSE 8888
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=2)"]
ENTRYPOINT ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/home/lab/labkit"]
CMD ["notebooks/00_index.ipynb"]

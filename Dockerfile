# The nudgeflow image: every `nudge` command (worker, trainer, topics, simulator).
#   docker build -t nudgeflow:local .                       # the stream processor
#   docker build --build-arg NUDGE_EXTRAS=<extra> -t ... .   # plus an optional extra
# torch, where an extra needs it, comes as the CPU build (PIP_EXTRA_INDEX_URL).
FROM python:3.11-slim

ARG NUDGE_EXTRAS=""
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY state ./state
COPY model ./model
COPY streams ./streams
RUN pip install ".${NUDGE_EXTRAS:+[$NUDGE_EXTRAS]}" \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin nudge \
    && mkdir -p /data/state /data/models /data/sim \
    && chown -R nudge /data

USER nudge
WORKDIR /data
ENV NUDGE_STATE_DIR=/data/state \
    NUDGE_MODEL_DIR=/data/models \
    NUDGE_METRICS_PORT=9464
EXPOSE 9464
ENTRYPOINT ["nudge"]
CMD ["--help"]

# The nudgeflow image: every `nudge` command (worker, trainer, topics, simulator).
#   docker build -t nudgeflow:local .                                   # serving: no torch
#   docker build --build-arg NUDGE_EXTRAS=train -t nudgeflow-trainer:local .   # + CPU torch
# Layers: the dependencies (from pyproject.toml alone) come before the source, so a code
# change reinstalls nothing but nudgeflow itself. torch, for the `train` extra only, is the
# CPU build (TORCH_INDEX_URL); the serving image has none.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml ./
COPY deploy/docker/requirements.py /usr/local/bin/nudge-requirements
RUN python /usr/local/bin/nudge-requirements pyproject.toml > /tmp/serving.txt \
    && pip install -r /tmp/serving.txt

ARG NUDGE_EXTRAS=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN if [ -n "$NUDGE_EXTRAS" ]; then \
      python /usr/local/bin/nudge-requirements pyproject.toml "$NUDGE_EXTRAS" > /tmp/extras.txt \
      && { grep -E '^torch\b' /tmp/extras.txt | xargs -r pip install --index-url "$TORCH_INDEX_URL"; } \
      && pip install -r /tmp/extras.txt; \
    fi

COPY README.md ./
COPY state ./state
COPY model ./model
COPY streams ./streams
# Thompson's race is a numba kernel: compiled here into numba's cache (the installed
# package is read-only to the worker; /data is its own), so a worker starts without
# compiling it (numba recompiles, once, only for a different CPU)
ENV NUMBA_CACHE_DIR=/data/numba-cache
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin nudge \
    && mkdir -p /data/state /data/models /data/sim \
    && (cd / && python -c "from model.bandit import beta_race; assert beta_race.prepare()") \
    && chown -R nudge /data

USER nudge
WORKDIR /data
ENV NUDGE_STATE_DIR=/data/state \
    NUDGE_MODEL_DIR=/data/models \
    NUDGE_METRICS_PORT=9464
EXPOSE 9464
ENTRYPOINT ["nudge"]
CMD ["--help"]

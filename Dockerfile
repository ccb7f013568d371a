# One file, two images (build with --target):
#   docker build --target coordinator -t tvarr-coordinator .
#   docker build --target ffmpegd     -t tvarr-transcoder .
# The build steps are the README's: `npm ci` (which brings Bun from the npm registry),
# then `bun scripts/build-worker.ts` for the single-file worker.

# --- build: dependencies and the compiled worker --------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# The worker for this image's own architecture (linux-x64 or linux-arm64).
RUN arch="$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')" \
 && node_modules/.bin/bun scripts/build-worker.ts --target="linux-${arch}" --outdir=/out \
 && mv "/out/ffmpegd-linux-${arch}" /out/ffmpegd

# --- coordinator: runs from source with its node_modules -------------------------
FROM node:20-bookworm-slim AS coordinator
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV TVARR_HTTP_HOST=0.0.0.0 \
    TVARR_HTTP_PORT=8080 \
    TVARR_GRPC_ENABLED=true \
    TVARR_GRPC_HOST=0.0.0.0 \
    TVARR_GRPC_PORT=9090 \
    TVARR_DATABASE_PATH=/data/tvarr.db \
    MIMALLOC_PURGE_DELAY=10000 \
    MIMALLOC_PURGE_HOLES=0
VOLUME /data
EXPOSE 8080 9090
CMD ["node_modules/.bin/bun", "coordinator/main.ts"]

# --- ffmpegd: FFmpeg and one file, nothing else ----------------------------------
FROM debian:bookworm-slim AS ffmpegd
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ffmpegd /usr/local/bin/ffmpegd
# Containers come and go under --scale: the worker id defaults to a hash of the
# hostname (the container id), so each replica is its own worker.
# MIMALLOC_*: freed buffers stay with the allocator for reuse (10 s); the relay costs
# about half the CPU (common/allocator-env.ts).
ENV TVARR_COORDINATOR_URL=coordinator:9090 \
    MIMALLOC_PURGE_DELAY=10000 \
    MIMALLOC_PURGE_HOLES=0
# SIGTERM drains (no new jobs; running ones move to other workers), then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ffmpegd"]
CMD ["run"]

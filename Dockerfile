# `bearing serve` in a container: the API, the dashboard and /metrics on
# port 8080, the SQLite store in the volume /var/lib/bearing (or Postgres with
# BEARING_DATABASE=postgres://…), the intent mounted at /etc/bearing.
#
#   docker build -t bearing .
#   docker run -p 8080:8080 -v "$PWD/bearing.yaml:/etc/bearing/bearing.yaml:ro" -v bearing:/var/lib/bearing bearing
#   docker run --rm -v bearing:/var/lib/bearing bearing token create --name ci --scope ingest,decide,read

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p bearing-cli \
    && install -m 0755 target/release/bearing /usr/local/bin/bearing

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/bearing --create-home bearing
COPY --from=build /usr/local/bin/bearing /usr/local/bin/bearing
USER 10001:10001
WORKDIR /var/lib/bearing
ENV BEARING_INTENT=/etc/bearing/bearing.yaml \
    BEARING_DATABASE=sqlite:///var/lib/bearing/bearing.db \
    BEARING_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/bearing"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["bearing"]
CMD ["serve"]

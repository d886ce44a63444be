# Telltale's image: the static server binary and its web folder (app.wasm
# with its .br and .gz, icons, CSS, uPlot) on an empty base, run as a user
# that is not root. Built as `make build` builds, by the same Makefile, in
# three stages. docs/DEPLOY.md, "Docker and compose", says how to run it,
# and how this file was built here without Docker Hub.
#
#   docker build --build-arg GIT_DESCRIBE="$(git describe --always --dirty)" -t telltale .
#   docker run --rm -p 8080:8080 telltale      # the demo, on the embedded store
#
# The build stages' base images are arguments, so that a registry mirror or
# a local copy can stand in for them.
ARG GO_IMAGE=golang:1.26-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# uPlot from the npm registry, as package-lock.json pins it.
FROM ${NODE_IMAGE} AS uplot
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM ${GO_IMAGE} AS build
WORKDIR /src
# The modules first: a change of source reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=uplot /src/node_modules/uplot/dist/uPlot.iife.min.js /src/node_modules/uplot/dist/uPlot.min.css static/uplot/
# The version pages see (their service worker's cache key) is this and a
# hash of the page's files; the build has no .git to describe.
ARG GIT_DESCRIBE=docker
# A static binary: the final image has no C library.
ENV CGO_ENABLED=0
# make build without npm: -o takes uPlot, copied above, as built.
RUN make build GIT_DESCRIBE="${GIT_DESCRIBE}" -o deps-run -o static/uplot/uPlot.iife.min.js \
 && ./bin/telltale version \
 && mkdir -p /rootfs/usr/local/bin /rootfs/usr/local/share/telltale /rootfs/etc/ssl/certs /rootfs/home/telltale \
 && mkdir -m 1777 /rootfs/tmp \
 && cp bin/telltale /rootfs/usr/local/bin/ \
 && cp -r static /rootfs/usr/local/share/telltale/web \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/

FROM scratch
# The binary, the web folder, /tmp, and the CA certificates that PostgreSQL
# over TLS, the identity provider and alert webhooks are verified with
# (time zones are in the binary).
COPY --from=build /rootfs/ /
# The home the server writes to only without TELLTALE_JWT_SECRET (its
# development secret, ~/.cache/telltale): the demo of `docker run`.
COPY --from=build --chown=65532:65532 /rootfs/home/telltale /home/telltale
USER 65532:65532
ENV PATH=/usr/local/bin \
    HOME=/home/telltale \
    TELLTALE_ADDR=:8080 \
    TELLTALE_WEB_DIR=/usr/local/share/telltale/web
EXPOSE 8080
# 200 only: 503 (warming, draining, PostgreSQL's LISTEN connection lost) for
# 30 s makes the container unhealthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/telltale", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/telltale"]

# go-smtp-source and go-smtp-sink in one image: static binaries (no libc, no shell) run by a
# non-root user. Build and push: README.md, "On Kubernetes". deploy/ tests this file: it runs
# the builder's commands and checks what they produce and what the final stage runs.
FROM golang:1.26 AS build
WORKDIR /src
# The modules first: a change to the sources alone reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# No cgo: nothing links libc, so the binaries need no dynamic loader (the final image has none).
ENV CGO_ENABLED=0
RUN go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/go-smtp-source ./cmd/go-smtp-source
RUN go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/go-smtp-sink ./cmd/go-smtp-sink

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/go-smtp-source /out/go-smtp-sink /usr/local/bin/
# distroless's nonroot user, by number: Kubernetes' runAsNonRoot can only check a number.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/go-smtp-source"]

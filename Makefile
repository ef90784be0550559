# Generator versions, pinned so that `make proto` reproduces the committed code.
# protoc itself comes from Debian 12's protobuf-compiler package (3.21.12).
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
TOOLS := $(CURDIR)/.tools

.PHONY: proto test build image

proto:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/ringtrain/v1/ringtrain.proto

test:
	go test -race -count=1 ./...

build:
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/...

# The offline image: static binaries built here, packed FROM scratch.
image:
	mkdir -p bin/image
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/image/ ./cmd/coordinator ./cmd/worker
	cp /etc/ssl/certs/ca-certificates.crt bin/image/
	docker build -f deploy/Dockerfile.scratch -t ringtrain:local bin/image

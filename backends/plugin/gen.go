package plugin

// Regenerate the gRPC code under proto/ with pinned tools and no protoc:
// buf compiles the .proto files itself and runs the pinned generators
// through `go run`. `make lint` runs this and fails on a diff.
//
//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate

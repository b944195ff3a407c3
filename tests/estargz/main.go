// esgzbuild turns a tar into an eStargz blob (or stargz-snapshotter's zstd:chunked) with the
// reference writer, estargz.Build, and prints the blob's TOC digest and annotations. The tests
// build it with Debian's golang-go and golang-github-containerd-stargz-snapshotter-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o esgzbuild tests/estargz/main.go
//
// Usage: esgzbuild [-zstd] [-chunk N] in.tar out.blob
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/containerd/stargz-snapshotter/estargz/zstdchunked"
	"github.com/klauspost/compress/zstd"
)

// zstdCompression joins the zstdchunked compressor and decompressor into an estargz.Compression.
type zstdCompression struct {
	*zstdchunked.Compressor
	*zstdchunked.Decompressor
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "esgzbuild:", err)
		os.Exit(1)
	}
}

func main() {
	useZstd := flag.Bool("zstd", false, "write zstd:chunked instead of gzip eStargz")
	chunk := flag.Int("chunk", 0, "chunk size (0: the default 4 MiB)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: esgzbuild [-zstd] [-chunk N] in.tar out.blob")
		os.Exit(2)
	}
	in, err := os.Open(flag.Arg(0))
	check(err)
	info, err := in.Stat()
	check(err)
	var options []estargz.Option
	if *chunk > 0 {
		options = append(options, estargz.WithChunkSize(*chunk))
	}
	annotations := map[string]string{}
	if *useZstd {
		options = append(options, estargz.WithCompression(&zstdCompression{
			&zstdchunked.Compressor{CompressionLevel: zstd.SpeedDefault, Metadata: annotations},
			&zstdchunked.Decompressor{},
		}))
	}
	blob, err := estargz.Build(io.NewSectionReader(in, 0, info.Size()), options...)
	check(err)
	defer blob.Close()
	out, err := os.Create(flag.Arg(1))
	check(err)
	_, err = io.Copy(out, blob)
	check(err)
	check(out.Close())
	fmt.Printf("toc_digest %s\n", blob.TOCDigest())
	for key, value := range annotations {
		fmt.Printf("annotation %s=%s\n", key, value)
	}
}

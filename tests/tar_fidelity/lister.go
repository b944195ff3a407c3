// Lists tar archives the way Go's archive/tar reads them, for tests/tar_fidelity.rs: for each
// archive named on the command line, one JSON line
// {"entries": [[NAME_HEX, TYPEFLAG, SIZE, LINKNAME_HEX], ...], "error": TEXT or null}.
// Names are hex-encoded bytes (they need not be UTF-8); SIZE is Header.Size, the real size of
// a sparse file. The error is the first one Next returned (not io.EOF).
package main

import (
	"archive/tar"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

type listing struct {
	Entries [][]interface{} `json:"entries"`
	Error   *string         `json:"error"`
}

func list(path string) listing {
	out := listing{Entries: [][]interface{}{}}
	file, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	defer file.Close()
	reader := tar.NewReader(file)
	for {
		header, err := reader.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			text := err.Error()
			out.Error = &text
			return out
		}
		out.Entries = append(out.Entries, []interface{}{
			hex.EncodeToString([]byte(header.Name)),
			string([]byte{header.Typeflag}),
			header.Size,
			hex.EncodeToString([]byte(header.Linkname)),
		})
	}
}

func main() {
	encoder := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[1:] {
		if err := encoder.Encode(list(path)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

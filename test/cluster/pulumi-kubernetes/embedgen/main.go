// embedgen writes the provider's schema with its version set, and its Terraform mapping, as the
// upstream generate.go does, without pulling in Pulumi's codegen packages.
//
//	go run ./embedgen <module cmd dir> <output dir> <version>
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: embedgen <provider cmd/pulumi-resource-kubernetes dir> <output dir> <version>")
	}
	src, dst, version := os.Args[1], os.Args[2], os.Args[3]
	var schema map[string]json.RawMessage
	read(filepath.Join(src, "schema.json"), &schema)
	schema["version"], _ = json.Marshal(version)
	write(filepath.Join(dst, "schema-embed.json"), schema)
	var mapping json.RawMessage
	read(filepath.Join(src, "terraform-mapping.json"), &mapping)
	write(filepath.Join(dst, "terraform-mapping-embed.json"), mapping)
}

func read(path string, into any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func write(path string, value any) {
	raw, err := json.Marshal(value) // compact, as upstream embeds it
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		log.Fatal(err)
	}
}

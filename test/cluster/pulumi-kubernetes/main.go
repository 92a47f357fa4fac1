// The Pulumi Kubernetes provider's own main (cmd/pulumi-resource-kubernetes) embeds
// schema-embed.json, which its `go generate` writes and the module zip lacks. This main is the
// same call with the schema that build.sh takes from the module and stamps with the version.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}

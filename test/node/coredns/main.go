// Command coredns is upstream CoreDNS with its standard plugin set, built from its Go
// module so that the node harness needs no prebuilt download. It is CoreDNS's own
// main: the plugin registrations, then coremain.Run.
package main

import (
	_ "github.com/coredns/coredns/core/plugin" // registers the standard plugins

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}

// The gateway's Caddy: Caddy's standard modules, at the versions go.mod and go.sum pin.
// Built by `python -m infra.build_images caddy` into images/gateway/build/caddy/<os>-<arch>/caddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}

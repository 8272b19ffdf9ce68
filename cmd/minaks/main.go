// Command minaks runs a local emulation of Azure Kubernetes Service networking.
package main

import "github.com/minaks/minaks/cmd/minaks/app"

func main() { app.Main() }

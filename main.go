// Command eventscope is an event store on PostgreSQL with durable live
// subscriptions, and a terminal explorer and admin console over it.
package main

import (
	"os"

	"eventscope/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }

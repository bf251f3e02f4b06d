package common

import "encoding/base64"

// OSC52 returns the escape sequence that asks the terminal to put text on
// the system clipboard. Terminals that do not support it ignore it; tmux
// passes it on with set-clipboard on.
func OSC52(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\a"
}

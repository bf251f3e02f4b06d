package common

import (
	"encoding/base64"
	"errors"
	"strings"
)

// OSC52 returns the escape sequence that asks the terminal to put text on
// the system clipboard. Terminals that do not support it ignore it; tmux
// passes it on with set-clipboard on.
func OSC52(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\a"
}

// ClipboardSupport says whether the terminal takes OSC 52 clipboard writes:
// nil when it should, else why not (the console says so instead of
// claiming a copy that silently went nowhere). getenv reads the
// environment; tmuxClipboard returns tmux's set-clipboard option (asked
// only inside tmux). A terminal it does not know is assumed to take them.
func ClipboardSupport(getenv func(string) string, tmuxClipboard func() (string, error)) error {
	if getenv("TMUX") != "" {
		v, err := tmuxClipboard()
		if err != nil {
			return nil // cannot tell: tmux's default (external) passes it on
		}
		if strings.TrimSpace(v) == "off" {
			return errors.New("tmux's set-clipboard option is off (tmux set -g set-clipboard on)")
		}
		return nil
	}
	term, prog := getenv("TERM"), getenv("TERM_PROGRAM")
	switch {
	case getenv("STY") != "" && strings.HasPrefix(term, "screen"):
		return errors.New("GNU screen does not pass OSC 52 clipboard writes on")
	case prog == "Apple_Terminal":
		return errors.New("macOS Terminal does not take OSC 52 clipboard writes (iTerm2, kitty, WezTerm, Alacritty, foot and tmux do)")
	case term == "linux":
		return errors.New("the Linux console has no clipboard")
	case getenv("VTE_VERSION") != "" && prog != "WezTerm" && getenv("KITTY_WINDOW_ID") == "":
		return errors.New("VTE terminals (GNOME Terminal, Tilix, Terminator) ignore OSC 52 clipboard writes")
	case term == "dumb":
		return errors.New("a dumb terminal has no clipboard")
	}
	return nil
}

// CopiedText is the status after a copy: what was copied, a preview when
// the text is one short line, and its size.
func CopiedText(what, text string) string {
	s := "copied " + what
	if !strings.ContainsAny(text, "\n\r") && len(text) <= 60 && text != "" {
		s += " " + `"` + text + `"`
	}
	return s + " (" + Bytes(len(text)) + ") to the clipboard"
}

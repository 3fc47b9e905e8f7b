//go:build !linux

package tui

import "testing"

// benchProcess needs a pseudo-terminal and /proc: Linux only.
func benchProcess(b *testing.B, _ benchServer) {
	b.Skip("the process benchmark runs on Linux only")
}

package main

import (
	"bytes"
	"image/png"
	"os"
	"testing"
)

// TestIconIsTheAsset: the icon the app embeds is assets/icon.png, which the
// packaging tool uses (go run ./mobile/internal/makeicon writes both).
func TestIconIsTheAsset(t *testing.T) {
	asset, err := os.ReadFile("../assets/icon.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(asset, iconPNG) {
		t.Fatal("mobile/icon.png differs from assets/icon.png; run: go run ./mobile/internal/makeicon assets/icon.png mobile/icon.png")
	}
	img, err := png.Decode(bytes.NewReader(iconPNG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("icon is %dx%d, want 512x512 (the size Android and iOS packaging scale from)", b.Dx(), b.Dy())
	}
}

func TestDeviceName(t *testing.T) {
	if got := deviceName(); got == "" {
		t.Error("empty device name")
	}
}

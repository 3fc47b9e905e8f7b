//go:build unix && race

package main

func init() { buildFlags = append([]string{"build", "-race"}, buildFlags[1:]...) }

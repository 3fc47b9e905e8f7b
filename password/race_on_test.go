//go:build race

package password

// raceEnabled tells tests that sync.Pool drops some of what it is given, as
// it does under the race detector.
const raceEnabled = true

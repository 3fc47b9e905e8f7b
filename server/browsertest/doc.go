// Package browsertest drives Deputy's browser capture component
// (GET /secure/deputy-secure.js and /secure/capture) in a real headless
// Chromium: an embedder's page on one loopback origin mounts the password
// field served from Deputy on another, and the tests check that the page gets
// a working token and never the password. It holds tests only; they need
// Debian's chromium (`make browser-deps`).
package browsertest

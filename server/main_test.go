package server_test

import (
	"testing"

	"github.com/deputyhq/deputy/internal/webhookbench"
)

// TestMain runs the tests, or, in the process BenchmarkUserCreateWebhooks starts, a receiver.
func TestMain(m *testing.M) { webhookbench.Main(m) }

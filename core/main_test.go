package core_test

import (
	"testing"

	"github.com/deputyhq/deputy/internal/webhookbench"
)

// TestMain runs the tests, or, in the process BenchmarkWebhookWriteOverhead starts, a receiver.
func TestMain(m *testing.M) { webhookbench.Main(m) }

package core_test

import (
	"os"
	"testing"

	"github.com/deputyhq/deputy/internal/webhookbench"
)

func TestMain(m *testing.M) {
	webhookbench.ServeIfChild() // BenchmarkWebhookWriteOverhead's receiver
	os.Exit(m.Run())
}

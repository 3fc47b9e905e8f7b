package webhook_test

import (
	"os"
	"testing"

	"github.com/deputyhq/deputy/internal/webhookbench"
)

func TestMain(m *testing.M) {
	webhookbench.ServeIfChild() // BenchmarkSend's receiver
	os.Exit(m.Run())
}

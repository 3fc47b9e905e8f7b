package server_test

import (
	"os"
	"testing"

	"github.com/deputyhq/deputy/internal/webhookbench"
)

func TestMain(m *testing.M) {
	webhookbench.ServeIfChild() // BenchmarkUserCreateWebhooks's receiver
	os.Exit(m.Run())
}

package apispec

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChallengeBudgetsAreDocumented: step-ups and confirmations, by SMS
// (RateLimits.SMSPerUser) and by push (PushPromptsPerUser), answer 429 over
// their budgets, and the spec says so for each.
func TestChallengeBudgetsAreDocumented(t *testing.T) {
	spec, err := Load()
	require.NoError(t, err)
	for _, path := range []string{"/multi/stepup/challenges/otp/{channel}", "/multi/challenges/otp/{channel}", "/multi/stepup/challenges/push/{channel}", "/multi/challenges/push/{channel}"} {
		item := spec.Doc.Paths.Find(path)
		if !assert.NotNil(t, item, path) {
			continue
		}
		assert.NotNil(t, item.Post.Responses.Status(http.StatusTooManyRequests), "%s declares 429", path)
	}
}

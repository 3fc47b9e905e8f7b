package server_test

// What real Weavr clients (Weavr's reference web app, its e2e suite, SDKs
// generated from its OpenAPI) send or look for, where Deputy used to differ
// (issue 13, point 8).

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStepUpRequiredCarriesAMessage(t *testing.T) {
	e := newEnv(t)
	_, token := e.corporate("root@acme.test")

	r := e.auth(token, "POST", usersPath, userBody("bea@acme.test"))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	body := r.json(t)
	assert.Equal(t, "STEP_UP_REQUIRED", body["errorCode"], "Weavr's errorCode stays")
	assert.NotEmpty(t, body["message"], "Weavr's reference app looks for a message")
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/mobile/authenticator"
	"github.com/deputyhq/deputy/server/client"
)

// TestBiometricSignInOfDeactivatedCredentials: a linked identity's root user
// signs in with its credentials' user (access.go). Once that user is
// deactivated, a phone enrolled on the linked identity must not open a
// session of it: an access token is refused then, and so is this.
func TestBiometricSignInOfDeactivatedCredentials(t *testing.T) {
	e := newBioEnv(t)
	ctx := context.Background()
	adaID, phone := e.enrolledRootID("ada@acme.test", "phone-1")
	linked := e.linkBeta(phone.s, "7700900123")
	at, err := phone.s.AccessToken(ctx, &linked.ID)
	require.NoError(t, err)
	beta := newDeviceWith(t, "phone-2", e.ui.Session(at.Token), authenticator.NewMemoryStore(), yes)
	beta.enrol() // the linked identity's root user gets a phone of its own

	require.NoError(t, e.inst.Store.Update(ctx, func(tx core.Tx) error {
		u, err := tx.User(adaID)
		if err != nil {
			return err
		}
		u.Active = false // as an admin's deactivation leaves it
		return tx.UpdateUser(u)
	}))

	body, err := json.Marshal(map[string]any{"email": "ada@acme.test", "identity": map[string]string{"type": "CORPORATE", "id": linked.ID.ID}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.inst.URL+"/multi/login_via_biometrics", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("api-key", e.inst.UIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var bl client.BiometricLogin
	require.NoError(t, json.NewDecoder(res.Body).Decode(&bl))
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	if e.pushRecord(bl.ChallengeID).UserID != "" { // prompted: the approval must still open nothing
		require.NoError(t, beta.approve(bl.ChallengeID, bl.Number))
	}
	login, err := e.ui.BiometricLoginToken(ctx, bl.ChallengeID, bl.Secret)
	require.Error(t, err, "a session of the linked identity after its credentials were deactivated: %+v", login)
	require.Empty(t, e.pushRecord(bl.ChallengeID).UserID, "a deactivated sign-in prompts nobody (a decoy)")
}

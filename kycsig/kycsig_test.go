package kycsig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"reference":"1","status":"APPROVED"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	assert.NoError(t, Verify(secret, h, body, now))
	assert.NoError(t, Verify(secret, h, body, now.Add(Tolerance)), "at the edge of the window")

	cases := map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		"tampered body":   {secret, h, []byte(`{"reference":"1","status":"REJECTED"}`), now},
		"wrong secret":    {[]byte("other"), h, body, now},
		"stale":           {secret, h, body, now.Add(Tolerance + time.Second)},
		"from the future": {secret, h, body, now.Add(-Tolerance - time.Second)},
		"empty header":    {secret, "", body, now},
		"garbage":         {secret, "t=abc,v1=zz", body, now},
		"no secret":       {nil, h, body, now},
	}
	for name, c := range cases {
		assert.ErrorIs(t, Verify(c.secret, c.header, c.body, c.now), ErrInvalid, name)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1800000000,v1=00", []byte("{}"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = Verify([]byte("k"), header, body, time.Unix(1_800_000_000, 0))
	})
}

package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRevocationNotices renders every notice of the policy (noticeText
// panics on a broken one) and checks each row has what its effects use.
func TestRevocationNotices(t *testing.T) {
	s := &Service{cfg: Config{LockoutThreshold: 5, LockoutDuration: 30 * time.Minute, SCAFailureLimit: 10, SCALockout: 15 * time.Minute}}
	u := &User{Email: "ann@example.com"}
	for reason, e := range revocationPolicy {
		t.Run(string(reason), func(t *testing.T) {
			assert.Equal(t, e.alertUser, e.subject != "" && e.text != "", "a row that alerts the user has a subject and a text")
			assert.Equal(t, e.alertAdmins, e.adminText != "", "a row that alerts admins has their text")
			assert.Equal(t, e.cancelPush, e.pushReason != "", "a row that cancels challenges says why")
			for _, text := range []string{e.text, e.adminText} {
				out := s.noticeText(text, u)
				assert.NotContains(t, out, "{{")
				assert.NotContains(t, out, "<no value>")
			}
		})
	}
	assert.Contains(t, s.noticeText(revocationPolicy[RevokeSCALock].text, u), "10 wrong verification codes")
	assert.Contains(t, s.noticeText(revocationPolicy[RevokeLockout].text, u), "30 minutes")
	assert.Contains(t, s.noticeText(revocationPolicy[RevokeNotMe].adminText, u), "ann@example.com")
}

package server

import (
	"time"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/internal/slots"
)

// maxBulkBodiesAtOnce bounds the bulk submissions one server reads and
// decodes at once, one of them an identity's (or, without a session, a
// programme's). Each may hold maxBulkBodyBytes
// and its decoded rows, and the identity's submission budget counts a
// submission only once its body is read, so parallel submissions could
// otherwise hold hundreds of MiB; and one identity's slow uploads hold no
// more than one slot. One more waits up to bulkBodyWait for its turn,
// holding no body meanwhile.
const (
	maxBulkBodiesAtOnce = 4
	bulkBodyWait        = 2 * time.Second
)

// errBulkBodiesBusy answers a bulk submission that got no slot.
var errBulkBodiesBusy = &core.Error{Class: core.ErrUnavailable, RetryAfter: time.Second,
	Message: "Other bulk submissions are being received: retry in a second."}

// newBulkSlots returns the slots of the bulk submissions a server reads at
// once, by uploader.
func newBulkSlots() *slots.Slots { return slots.New(maxBulkBodiesAtOnce, 1, bulkBodyWait) }

package core

import "context"

// Leader runs background work (sweeps, audit checkpoints) on one replica at
// a time when several share a store; the PostgreSQL store is one (advisory
// locks). Without one (a single process) the work runs directly.
type Leader interface {
	// Lead runs fn unless another replica is running the work of the same
	// name right now; ran says whether fn ran. Should the store lose the
	// lock while fn runs (its connection ended), it cancels fn's context:
	// another replica may start the work meanwhile, so work must bear
	// overlapping for the moment fn takes to stop.
	Lead(ctx context.Context, name string, fn func(context.Context) error) (ran bool, err error)
}

// lead runs fn as the work name, on this replica only when no other runs it.
func (s *Service) lead(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.send.Leader == nil {
		return fn(ctx)
	}
	_, err := s.send.Leader.Lead(ctx, name, fn)
	return err
}

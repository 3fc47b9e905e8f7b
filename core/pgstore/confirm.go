package pgstore

import "github.com/deputyhq/deputy/core"

// Resources and confirmation challenges (core.ConfirmationReader and Writer).

func (t *tx) Resource(programmeID string, typ core.ResourceType, id string) (*core.Resource, error) {
	return get[core.Resource](t, "resource "+string(typ)+"/"+id,
		`SELECT data FROM resources WHERE programme_id = $1 AND type = $2 AND id = $3`, programmeID, string(typ), id)
}

func (t *tx) PutResource(r *core.Resource) error {
	data, err := encode(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO resources (programme_id, type, id, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (programme_id, type, id) DO UPDATE SET data = excluded.data`, r.ProgrammeID, string(r.Type), r.ID, data)
	return err
}

func (t *tx) Confirmation(id string) (*core.Confirmation, error) {
	return get[core.Confirmation](t, "confirmation "+id, `SELECT data FROM confirmations WHERE id = $1`, id)
}

func (t *tx) PutConfirmation(c *core.Confirmation) error {
	data, err := encode(c)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO confirmations (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`, c.ID, data)
	return err
}

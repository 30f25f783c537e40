package postgresadapter

import (
	"context"
	"fmt"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NewFactory returns a Factory of adapters speaking the protocol of
// @socket.io/postgres-adapter 0.5 (createAdapter), for
// socketio.Options.Adapter. The adapters of one factory share one
// connection that LISTENs to their channels; they publish with
// pg_notify on the pool's connections, and clean the attachments table
// up every CleanupInterval. A message whose JSON is over the threshold,
// or which holds binary, is stored in the attachments table, which must
// exist (CreateAttachmentsTable). An invalid Options.TableName makes
// every message to other nodes fail with an error saying so.
//
// Making a namespace's adapter LISTENs to its channel before it says
// hello to the other nodes, so that no answer is missed; while
// PostgreSQL cannot be reached, that waits up to RequestsTimeout, and the
// LISTEN is done once it can.
func NewFactory(pool *pgxpool.Pool, opts *Options) adapter.Factory {
	h := newHub(pool, opts)
	return func(nsp adapter.Namespace) adapter.Adapter {
		return newAdapter(h, nsp, randid.Hex(16))
	}
}

// CreateAttachmentsTable creates the attachments table if it does not
// exist, as @socket.io/postgres-adapter's documentation describes it;
// table "" means the default name.
func CreateAttachmentsTable(ctx context.Context, pool *pgxpool.Pool, table string) error {
	o, err := Options{TableName: table}.withDefaults()
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+o.TableName+` (
		id          bigserial UNIQUE,
		created_at  timestamptz DEFAULT NOW(),
		payload     bytea
	)`)
	if err != nil {
		return fmt.Errorf("postgresadapter: create table %s: %w", o.TableName, err)
	}
	return nil
}

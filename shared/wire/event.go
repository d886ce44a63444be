package wire

// Event is one entry of a stream's log. Seq grows by exactly one per event
// within an epoch; a new epoch restarts the numbering and invalidates cursors.
//
// An event carries any mix of three payloads, each folded into the stream's
// State by package livestate: Values (gauges set to the given value), Row (a
// keyed record upserted into the recent rows) and Points (columnar samples).
type Event struct {
	Stream string `msgpack:"stream"`
	Epoch  uint64 `msgpack:"epoch"`
	Seq    uint64 `msgpack:"seq"`
	Time   int64  `msgpack:"time"` // event time, Unix milliseconds

	// Latency stamps, Unix nanoseconds on the server's clock, one per stage
	// of the path (package shared/sla names the stages): Created by the
	// producer (the commit, for SQL and watched tables), Stored when the
	// store made the event durable, Ingested when it entered the hub. Sent
	// is stamped per connection on Batch; the page adds received, applied
	// and painted on its own clock, put on the server's by shared/sla.
	Created  int64 `msgpack:"created,omitempty"`
	Stored   int64 `msgpack:"stored,omitempty"`
	Ingested int64 `msgpack:"ingested,omitempty"`

	Values map[string]float64 `msgpack:"values,omitempty" json:"values,omitempty"`
	Row    *Row               `msgpack:"row,omitempty" json:"row,omitempty"`
	Points *Points            `msgpack:"points,omitempty" json:"points,omitempty"`
}

// RowOp says what happened to a row.
type RowOp string

// Row operations. Anything but RowDelete upserts; watched tables say which
// change it was.
const (
	RowUpsert RowOp = ""
	RowInsert RowOp = "insert"
	RowUpdate RowOp = "update"
	RowDelete RowOp = "delete"
)

// Row is a keyed record: an order, a vehicle, a line of a watched table. The
// json tags are the shape of an event body in PostgreSQL and in HTTP ingest.
type Row struct {
	Key    string         `msgpack:"key" json:"key"`
	Op     RowOp          `msgpack:"op,omitempty" json:"op,omitempty"`
	Fields map[string]any `msgpack:"fields,omitempty" json:"fields,omitempty"`
}

// Points is a columnar batch of samples: one shared timestamp column and one
// value column per series, all of the same length. Columnar, not one map per
// point: a batch of n points over k series is k+1 arrays, not n maps.
type Points struct {
	TS   []int64  `msgpack:"ts" json:"ts"` // Unix milliseconds, ascending
	Cols []Column `msgpack:"cols" json:"cols"`
	// Upsert says these samples replace the samples a table holds at the
	// same timestamps (its other series keep theirs) and are inserted in
	// time order otherwise: a derived stream's bucket updated live, or late.
	// Without it samples are appended.
	Upsert bool `msgpack:"upsert,omitempty" json:"upsert,omitempty"`
}

// Column is one series' values, aligned with Points.TS.
type Column struct {
	Name string    `msgpack:"name" json:"name"`
	Vals []float64 `msgpack:"vals" json:"vals"`
}

// Col returns the column called name, or nil.
func (p *Points) Col(name string) []float64 {
	for i := range p.Cols {
		if p.Cols[i].Name == name {
			return p.Cols[i].Vals
		}
	}
	return nil
}

// Valid reports whether every column has as many values as there are timestamps.
func (p *Points) Valid() bool {
	for i := range p.Cols {
		if len(p.Cols[i].Vals) != len(p.TS) {
			return false
		}
	}
	return true
}

// State is a stream's folded hot state, as sent in a Snapshot.
type State struct {
	Values map[string]float64 `msgpack:"values,omitempty"`
	Rows   []Row              `msgpack:"rows,omitempty"` // newest first
	Points Points             `msgpack:"points"`
	// LastTime is the event time of the newest event folded in (Unix ms).
	LastTime int64 `msgpack:"last_time,omitempty"`
}

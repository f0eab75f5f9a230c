package manifest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/sanitize"
	"github.com/backfill/backfill/lib/scan"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/subset"
)

// Version is the manifest format this code reads and writes.
const Version = 1

// Manifest is contract 1. Field order is output order.
type Manifest struct {
	Version      int          `json:"version"`
	GeneratedAt  string       `json:"generated_at"`
	Since        string       `json:"since"`
	Server       Server       `json:"server"`
	Database     string       `json:"database"`
	Order        []string     `json:"order"`
	Excluded     []string     `json:"excluded"`
	BrokenCycles []BrokenEdge `json:"broken_cycles"`
	Tables       []*Table     `json:"tables"`
	// Unreviewed lists the columns that look sensitive (by name or by a
	// sample of their values) and have no sanitize rule, not even
	// { type = "keep" }: with [server] unreviewed = "refuse" their tables
	// are refused.
	Unreviewed []scan.Finding `json:"unreviewed"`
}

// Server is the source server's flavour and version.
type Server struct {
	Flavor  string `json:"flavor"`
	Version string `json:"version"`
}

// BrokenEdge names a foreign key ignored to break a cycle in Order.
type BrokenEdge struct {
	Table string `json:"table"`
	Name  string `json:"name"`
}

// Table is one served table.
type Table struct {
	Name        string       `json:"name"`
	Rows        int64        `json:"rows"`
	PrimaryKey  []string     `json:"primary_key"`
	Columns     []Column     `json:"columns"`
	ForeignKeys []ForeignKey `json:"foreign_keys"`
	Sanitized   []string     `json:"sanitized"`
	Limit       *Limit       `json:"limit"`
	Delta       bool         `json:"delta"`
	DeltaRows   *int64       `json:"delta_rows,omitempty"`
	// KeptRows is what a dump of a table restricted by [limits] writes:
	// exact for a limited table, an upper bound for a table filtered
	// through a limited parent (KeptRowsExact false). Absent otherwise.
	KeptRows      *int64 `json:"kept_rows,omitempty"`
	KeptRowsExact *bool  `json:"kept_rows_exact,omitempty"`
	// Masking is the table's masking fingerprint
	// ([sanitize.Plan.Fingerprint]): it changes when its masked values
	// would, so that a client knows a delta would mix two maskings. "" in
	// manifests of an older bf-serve, and for a table whose rules do not
	// compile.
	Masking string `json:"masking"`
}

// Limit is a table's [limits.TABLE] section. OrderBy "" means the primary key.
type Limit struct {
	MaxRows   int64  `json:"max_rows"`
	KeepDays  int    `json:"keep_days"`
	OrderBy   string `json:"order_by"`
	Direction string `json:"direction"`
}

// Column is one column of a table.
type Column struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Nullable  bool   `json:"nullable"`
	Generated bool   `json:"generated"`
	Invisible bool   `json:"invisible"`
}

// ForeignKey is one foreign key of a table.
type ForeignKey struct {
	Name       string   `json:"name"`
	Columns    []string `json:"columns"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
}

// Table returns the table with this name.
func (m *Manifest) Table(name string) (*Table, bool) {
	for _, t := range m.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// Build reads the source database through db inside one consistent
// snapshot and assembles the manifest. since is "" or an RFC 3339 time;
// with it every delta table gets delta_rows. Configuration rules that name
// a missing table or column are a *config.Error.
func Build(ctx context.Context, db *sql.DB, database string, cfg *config.Config, since string) (*Manifest, error) {
	var sinceT time.Time
	if since != "" {
		t, err := ParseSince(since)
		if err != nil {
			return nil, err
		}
		sinceT = t
	}
	conn, end, err := mysqldb.Snapshot(ctx, db)
	if err != nil {
		return nil, err
	}
	defer end()

	srv, err := mysqldb.Describe(ctx, conn)
	if err != nil {
		return nil, err
	}
	// Rounded down to the second: generated_at becomes the next delta's
	// since, and a row written later in this same second into a column
	// without fractional seconds (TIMESTAMP, DATETIME) is stored as the
	// whole second, which a since with microseconds would miss. Rows of
	// the first part of the second come again in the next delta, which
	// upserts them.
	var now string
	if err := conn.QueryRowContext(ctx, "SELECT DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%s.000000Z')").Scan(&now); err != nil {
		return nil, mysqldb.Explain(err)
	}
	s, err := schema.Load(ctx, conn, database)
	if err != nil {
		return nil, err
	}
	if len(s.Tables) == 0 {
		var n int
		_ = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?", database).Scan(&n)
		if n == 0 {
			return nil, fmt.Errorf("database %q does not exist or is not visible to this user", database)
		}
	}
	if err := s.CheckConfig(cfg); err != nil {
		return nil, err
	}
	res, err := subset.New(s, cfg)
	if err != nil {
		return nil, err
	}
	m := FromSchema(s, cfg)
	findings, err := scan.Scan(ctx, conn, s, scan.Options{})
	if err != nil {
		return nil, err
	}
	if un := scan.Unreviewed(findings, cfg); un != nil {
		m.Unreviewed = un
	}
	for _, t := range m.Tables {
		if !res.Restricted(t.Name) {
			continue
		}
		n, exact, err := res.Estimate(ctx, conn, t.Name)
		if err != nil {
			return nil, err
		}
		t.KeptRows, t.KeptRowsExact = &n, &exact
	}
	m.GeneratedAt = now
	m.Server = Server{Flavor: srv.Flavor, Version: srv.Version}
	if since != "" {
		m.Since = sinceT.UTC().Format(time.RFC3339Nano)
		for _, t := range m.Tables {
			if !t.Delta {
				continue
			}
			var n int64
			q := "SELECT COUNT(*) FROM " + sqltext.QuoteIdent(t.Name) +
				" WHERE (`created_at` >= ? OR `updated_at` >= ?)"
			// Deltas apply the same subset as full dumps.
			w, err := res.Where(t.Name)
			if err != nil {
				return nil, err
			}
			if w != "" {
				q += " AND (" + w + ")"
			}
			ts := SQLTime(sinceT)
			if err := conn.QueryRowContext(ctx, q, ts, ts).Scan(&n); err != nil {
				return nil, fmt.Errorf("count delta rows of %q: %w", t.Name, mysqldb.Explain(err))
			}
			t.DeltaRows = &n
		}
	}
	return m, nil
}

// FromSchema assembles the parts of the manifest that come from the schema
// and the configuration alone (no clock, no server, no counts).
func FromSchema(s *schema.Schema, cfg *config.Config) *Manifest {
	m := &Manifest{
		Version:      Version,
		Database:     s.Database,
		Order:        []string{},
		Excluded:     []string{},
		BrokenCycles: []BrokenEdge{},
		Tables:       []*Table{},
		Unreviewed:   []scan.Finding{},
	}
	excluded := map[string]bool{}
	for _, name := range cfg.Excluded() {
		if _, ok := s.Table(name); ok {
			excluded[name] = true
			m.Excluded = append(m.Excluded, name)
		}
	}
	order, broken := s.Order()
	for _, name := range order {
		if !excluded[name] {
			m.Order = append(m.Order, name)
		}
	}
	for _, fk := range broken {
		if !excluded[fk.Table] && !excluded[fk.RefTable] {
			m.BrokenCycles = append(m.BrokenCycles, BrokenEdge{Table: fk.Table, Name: fk.Name})
		}
	}
	for _, st := range s.Tables {
		if excluded[st.Name] {
			continue
		}
		t := &Table{
			Name:        st.Name,
			Rows:        st.Rows,
			PrimaryKey:  append([]string{}, st.PrimaryKey...),
			Columns:     []Column{},
			ForeignKeys: []ForeignKey{},
			Sanitized:   []string{},
			Delta:       st.HasDelta(),
			Masking:     masking(cfg, st),
		}
		rules := cfg.Sanitize[st.Name]
		for _, c := range st.Columns {
			t.Columns = append(t.Columns, Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable, Generated: c.Generated, Invisible: c.Invisible})
			if r, ok := rules[c.Name]; ok && r.Type != "keep" {
				t.Sanitized = append(t.Sanitized, c.Name)
			}
		}
		for _, fk := range st.ForeignKeys {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Name: fk.Name, Columns: fk.Columns, RefTable: fk.RefTable, RefColumns: fk.RefColumns})
		}
		if l, ok := cfg.Limits[st.Name]; ok {
			t.Limit = &Limit{MaxRows: l.MaxRows, KeepDays: l.KeepDays, OrderBy: l.OrderBy, Direction: l.Dir()}
		}
		m.Tables = append(m.Tables, t)
	}
	return m
}

// masking is the masking fingerprint of table t (sanitize.Plan.Fingerprint),
// "" when its rules do not compile: its dump fails then too, and a client
// treats the table as an older bf-serve's.
func masking(cfg *config.Config, t *schema.Table) string {
	p, err := sanitize.Compile(cfg, t)
	if err != nil {
		return ""
	}
	return p.Fingerprint(cfg.Server.Salt)
}

// ParseSince parses an RFC 3339 time for --since / ?since=, rounded down
// to the whole second: a row written later in that second into a TIMESTAMP
// or DATETIME column without fractional seconds is stored as the whole
// second (MariaDB truncates), which a since with a fraction would miss. The
// rows of the earlier part of the second come along too; a delta upserts.
// Every delta predicate and header (dumps, the manifest's delta_rows and
// since) uses the rounded time.
func ParseSince(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is not an RFC 3339 time (example: 2026-11-25T12:00:00Z)", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// SQLTime formats t as a DATETIME(6) literal value in UTC, for binding.
func SQLTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999") }

// Encode writes m as indented JSON followed by a newline.
func Encode(w io.Writer, m *Manifest) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(m)
}

// ErrVersion is returned by Decode for a manifest of another version.
var ErrVersion = errors.New("unsupported manifest version")

// Decode reads a manifest, ignoring unknown keys and refusing any version
// but Version. name is used in messages.
func Decode(r io.Reader, name string) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(r)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a backfill manifest: %w", name, err)
	}
	if m.Version != Version {
		if m.Version == 0 {
			return nil, fmt.Errorf("%s: not a backfill manifest: no \"version\" key", name)
		}
		return nil, fmt.Errorf("%s has version %d; this program reads version %d: %w", name, m.Version, Version, ErrVersion)
	}
	seen := map[string]bool{}
	for _, t := range m.Tables {
		if t == nil || t.Name == "" {
			return nil, fmt.Errorf("%s: a table without a name", name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%s: table %q listed twice", name, t.Name)
		}
		seen[t.Name] = true
	}
	ordered := map[string]bool{}
	for _, n := range m.Order {
		if !seen[n] {
			return nil, fmt.Errorf("%s: order names table %q, which is not in tables", name, n)
		}
		// A table twice in the order would be downloaded twice at once
		// into the same file, and imported twice.
		if ordered[n] {
			return nil, fmt.Errorf("%s: order names table %q twice", name, n)
		}
		ordered[n] = true
	}
	return &m, nil
}

// Names returns the names in m.Order, or of m.Tables when Order is empty.
func (m *Manifest) Names() []string {
	if len(m.Order) > 0 {
		return append([]string{}, m.Order...)
	}
	out := make([]string, 0, len(m.Tables))
	for _, t := range m.Tables {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

// MaskedOtherwise names the first of tables (nil: every table of old)
// that old, a download's manifest, masks otherwise than cur, the server's
// manifest now: another masking fingerprint, or a table one of them lacks.
// Rows of two maskings must not meet in one local copy, so such a download
// is neither resumed nor reused. It returns "" when every table agrees, and
// when cur carries no fingerprint at all (a bf-serve older than them,
// which cannot tell).
func MaskedOtherwise(old, cur *Manifest, tables []string) string {
	if !cur.Fingerprinted() {
		return ""
	}
	if tables == nil {
		tables = old.Names()
	}
	for _, name := range tables {
		was, ok := old.Table(name)
		now, ok2 := cur.Table(name)
		if !ok || !ok2 || was.Masking != now.Masking {
			return name
		}
	}
	return ""
}

// Fingerprinted reports whether any table of m carries a masking
// fingerprint: a bf-serve older than them sends none.
func (m *Manifest) Fingerprinted() bool {
	for _, t := range m.Tables {
		if t.Masking != "" {
			return true
		}
	}
	return false
}

// Select returns the manifest's tables named in names, in import order,
// or an error listing the valid names for any unknown one.
func (m *Manifest) Select(names []string) ([]string, error) {
	if len(names) == 0 {
		return m.Names(), nil
	}
	want := map[string]bool{}
	var unknown []string
	for _, n := range names {
		if _, ok := m.Table(n); !ok {
			unknown = append(unknown, n)
		}
		want[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown table %s; the manifest has: %s", quoteList(unknown), strings.Join(m.Names(), ", "))
	}
	var out []string
	for _, n := range m.Names() {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// Package scan finds columns that look like they hold personal or secret
// data, suggests a sanitize rule for each, and guards dumps against
// sensitive columns that nobody reviewed.
//
// # Heuristics
//
// A column is flagged by its name or by its values.
//
// Names are split into words ("lastLoginIP", "last_login_ip" and
// "LastLoginIp" all give last/login/ip) and matched against far more than
// exact names: email, e_mail, *_email; first/last/full/display/user name,
// nickname, login, a bare "name" in a table of people (users, members,
// customers, ... or any table with another personal column); phone, mobile,
// fax, tel; address, street, house number, city, zip, postcode; ip, *_ip,
// ip_address, remote_addr; password, *_hash; remember_token, API, access
// and refresh tokens, *_secret, API keys, two_factor_secret and recovery
// codes, a sessions table's id and payload; ssn, national ID, passport and driving
// licence numbers; tax and VAT IDs; IBAN and account numbers; card numbers
// and security codes; date and place of birth; latitude/longitude and
// spatial location columns; photos and signatures in BLOBs. Names that
// describe a value without holding it are not flagged: email_verified_at,
// phone_type, is_mobile, password_changed_at, address_id, and any
// TINYINT(1)/BIT(1) flag. A column named like its table (city.city) is a
// lookup value, not someone's city.
//
// Values are sampled from every text column (CHAR, VARCHAR, TEXT, JSON) —
// a bounded sample, never a scan: Options.SampleRows rows per table (200 by
// default), read as a few index range slices spread over the primary key
// when the table has a single integer primary key, else the first rows;
// each value is cut to Options.MaxValueBytes. A column is flagged when at
// least half of its non-empty sampled values are email addresses, IPv4/IPv6
// addresses, Luhn-valid card numbers, phone numbers or JSON Web Tokens, or
// when any sampled value contains an email address or a JWT (free text,
// JSON documents).
//
// Every [Finding] carries a suggested sanitize type that fits the column as
// lib/sanitize requires (for example "hash" only on columns of 60
// characters or more, "null" only on nullable ones, "fixed" never on UNIQUE
// ones) and the reason it was flagged.
//
// # The guard
//
// A finding without a rule in [sanitize.TABLE] is unreviewed. A rule
// { type = "keep" } marks a column reviewed and passes it through. [Guard]
// returns a table's unreviewed findings and, with [server] unreviewed =
// "refuse", an *[UnreviewedError] that names each column and its reason.
//
// Scanning only reads: callers pass a connection inside a read-only
// snapshot ([mysqldb.Snapshot]).
package scan

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/tomledit"
)

// Finding is one column that looks sensitive.
type Finding struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Kind   string `json:"kind"`            // what it looks like: "email", "phone", ... (the Kind constants)
	Type   string `json:"type"`            // suggested sanitize type
	Value  string `json:"value,omitempty"` // the constant, for Type "fixed"
	Expr   string `json:"expr,omitempty"`  // the expression, for Type "sql"
	Reason string `json:"reason"`          // why it was flagged
}

// Rule returns the suggested rule as a TOML inline table, for example
// { type = "email" }.
func (f Finding) Rule() string {
	switch f.Type {
	case "fixed":
		return `{ type = "fixed", value = ` + tomledit.Quote(f.Value) + ` }`
	case "sql":
		return `{ type = "sql", expr = ` + tomledit.Quote(f.Expr) + ` }`
	}
	return `{ type = ` + tomledit.Quote(f.Type) + ` }`
}

// String is "table.column: reason".
func (f Finding) String() string { return f.Table + "." + f.Column + ": " + f.Reason }

// DefaultSampleRows is the number of rows sampled per table by default.
const DefaultSampleRows = 200

// Options control Scan.
type Options struct {
	// SampleRows is the number of rows sampled per table: 0 means
	// DefaultSampleRows, a negative number turns sampling off (names only).
	SampleRows int
	// MaxValueBytes is how many characters of each sampled value are read;
	// 0 means 256.
	MaxValueBytes int
	// Tables limits the scan to these tables; nil scans every table.
	Tables []string
}

// Querier is what Scan needs: a *sql.Conn inside a snapshot, a *sql.Tx or a
// *sql.DB.
type Querier = schema.Querier

// Scan flags the sensitive-looking columns of every table of s (or of
// o.Tables), sampling values through q. Findings are sorted by table name,
// then column position. Generated columns are never dumped, so never
// flagged.
func Scan(ctx context.Context, q Querier, s *schema.Schema, o Options) ([]Finding, error) {
	var out []Finding
	for _, st := range s.Tables {
		if o.Tables != nil && !in(st.Name, o.Tables...) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs, err := ScanTable(ctx, q, st, o)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// ScanTable is Scan for one table.
func ScanTable(ctx context.Context, q Querier, st *schema.Table, o Options) ([]Finding, error) {
	t := fromSchema(st)
	var samples map[string]*stats
	if o.SampleRows >= 0 {
		var err error
		if samples, err = t.sample(ctx, q, o); err != nil {
			return nil, err
		}
	}
	return t.findings(samples), nil
}

// Table describes a table without a database connection: from a manifest
// on the client side, which cannot read production. Type is the full
// COLUMN_TYPE ("varchar(255)", "int(10) unsigned").
type Table struct {
	Name       string
	PrimaryKey []string
	Columns    []Column
}

// Column is one column of a [Table].
type Column struct {
	Name      string
	Type      string
	Nullable  bool
	Generated bool
}

// ScanNames flags columns by name alone (no values), for tables described
// without a database, such as a manifest's. Findings are sorted by table
// name, then column order.
func ScanNames(tables []Table) []Finding {
	sorted := append([]Table(nil), tables...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []Finding
	for i := range sorted {
		out = append(out, fromTable(&sorted[i]).findings(nil)...)
	}
	return out
}

// tdesc is what the heuristics need to know about a table, from a schema or
// from a manifest.
type tdesc struct {
	name   string
	cols   []*cdesc
	rows   int64
	intPK  string // the single integer primary key column, if any
	pkType string
	unique map[string]bool // part of the primary key or of a UNIQUE key
}

type cdesc struct {
	name       string
	dataType   string
	columnType string
	maxChars   int64
	nullable   bool
	cl         class
}

func fromSchema(st *schema.Table) *tdesc {
	t := &tdesc{name: st.Name, rows: st.Rows, unique: map[string]bool{}}
	for _, c := range st.Columns {
		if c.Generated {
			continue
		}
		t.cols = append(t.cols, &cdesc{name: c.Name, dataType: c.DataType, columnType: c.Type, maxChars: c.MaxChars,
			nullable: c.Nullable, cl: classify(c.DataType, c.Type)})
	}
	for _, k := range append([][]string{st.PrimaryKey}, st.UniqueKeys...) {
		for _, c := range k {
			t.unique[c] = true
		}
	}
	if len(st.PrimaryKey) == 1 {
		if c, ok := st.Column(st.PrimaryKey[0]); ok && isInteger(c.DataType) {
			t.intPK, t.pkType = c.Name, c.Type
		}
	}
	return t
}

func fromTable(mt *Table) *tdesc {
	t := &tdesc{name: mt.Name, unique: map[string]bool{}}
	for _, c := range mt.Columns {
		if c.Generated {
			continue
		}
		dt, maxChars := parseType(c.Type)
		t.cols = append(t.cols, &cdesc{name: c.Name, dataType: dt, columnType: c.Type, maxChars: maxChars,
			nullable: c.Nullable, cl: classify(dt, c.Type)})
	}
	for _, c := range mt.PrimaryKey {
		t.unique[c] = true
	}
	if len(mt.PrimaryKey) == 1 {
		for _, c := range t.cols {
			if c.name == mt.PrimaryKey[0] && isInteger(c.dataType) {
				t.intPK, t.pkType = c.name, c.columnType
			}
		}
	}
	return t
}

// parseType splits a full COLUMN_TYPE ("varchar(255)", "int(10) unsigned",
// "longtext") into the data type and, for character types, the maximum
// length in characters.
func parseType(ct string) (dataType string, maxChars int64) {
	ct = strings.ToLower(strings.TrimSpace(ct))
	dataType = ct
	if i := strings.IndexAny(ct, "( "); i >= 0 {
		dataType = ct[:i]
	}
	switch dataType {
	case "char", "varchar", "binary", "varbinary":
		if i, j := strings.IndexByte(ct, '('), strings.IndexByte(ct, ')'); i >= 0 && j > i {
			maxChars, _ = strconv.ParseInt(ct[i+1:j], 10, 64)
		}
	case "tinytext", "tinyblob":
		maxChars = 255
	case "text", "blob":
		maxChars = 65535
	case "mediumtext", "mediumblob":
		maxChars = 16777215
	case "longtext", "longblob", "json":
		maxChars = 4294967295
	}
	return dataType, maxChars
}

func isInteger(dataType string) bool {
	return in(dataType, "tinyint", "smallint", "mediumint", "int", "integer", "bigint")
}

// findings applies the name heuristics and merges the value samples.
func (t *tdesc) findings(samples map[string]*stats) []Finding {
	kinds := make([]nameKind, len(t.cols))
	person := isPersonTable(t.name)
	for i, c := range t.cols {
		kinds[i] = byName(t.name, c.name, c.cl, person)
		if personal(kinds[i].kind) {
			person = true
		}
	}
	var out []Finding
	for i, c := range t.cols {
		nk := kinds[i]
		if nk.kind == "" && person {
			nk = byName(t.name, c.name, c.cl, true)
		}
		var vkind, vreason string
		jsonish := strings.EqualFold(c.dataType, "json")
		if s := samples[c.name]; s != nil {
			vkind, vreason = s.verdict()
			jsonish = jsonish || (s.n > 0 && s.jsonDocs == s.n)
		}
		if nk.kind == "" && vkind == "" {
			continue
		}
		f := Finding{Table: t.name, Column: c.name}
		var reasons []string
		if nk.kind != "" {
			f.Kind = nk.kind
			r := nk.reason
			if r == "" {
				r = "name suggests " + what[nk.kind]
			}
			reasons = append(reasons, r)
		}
		if vkind != "" {
			// The values say more than a vague name when they are all of
			// one kind: a from_address column full of email addresses. A
			// precise name (ssn, iban, token) wins over look-alike values.
			if f.Kind == "" || (vkind != KindFreeText && in(f.Kind, KindAddress, KindName, KindUsername, KindLocation)) {
				f.Kind = vkind
			}
			reasons = append(reasons, vreason)
		}
		f.Reason = strings.Join(reasons, "; ")
		f.Type, f.Value, f.Expr = t.suggest(f.Kind, c, jsonish)
		out = append(out, f)
	}
	return out
}

// suggest returns a sanitize rule for a column of this kind that lib/sanitize
// accepts for the column's type.
func (t *tdesc) suggest(kind string, c *cdesc, jsonish bool) (typ, value, expr string) {
	text := c.cl == classText || c.cl == classBinary
	unsigned := strings.Contains(strings.ToLower(c.columnType), "unsigned")
	switch kind {
	case KindEmail:
		if text && !jsonish {
			return "email", "", ""
		}
	case KindName, KindUsername:
		if text && !jsonish {
			return "name", "", ""
		}
	case KindPhone:
		if (text && !jsonish) || c.dataType == "bigint" {
			return "phone", "", ""
		}
	case KindAddress:
		if text && !jsonish {
			return "address", "", ""
		}
	case KindIP:
		switch {
		case c.cl == classText && !jsonish && (c.maxChars == 0 || c.maxChars >= 15),
			c.cl == classBinary && (c.maxChars == 0 || c.maxChars >= 4),
			c.cl == classInet,
			c.cl == classInt && (unsigned || c.dataType == "bigint"):
			return "local_ip", "", ""
		}
	case KindPassword:
		if text && !jsonish && c.maxChars >= 60 && !t.unique[c.name] {
			return "hash", "", ""
		}
	}
	return t.fallback(c, jsonish)
}

// fallback is the rule for data no type imitates (tokens, ID numbers, card
// numbers) or that the semantic type does not fit: NULL where allowed,
// else a value of the column's type.
func (t *tdesc) fallback(c *cdesc, jsonish bool) (typ, value, expr string) {
	if c.nullable {
		return "null", "", ""
	}
	unique := t.unique[c.name]
	switch c.cl {
	case classText, classBinary:
		if jsonish && !unique {
			return "fixed", "{}", ""
		}
		return "text", "", ""
	case classInt, classNum:
		if unique && t.intPK != "" {
			// Unique and numeric: the row's own key is unique and
			// reveals nothing that is not dumped anyway.
			return "sql", "", sqltext.QuoteIdent(t.intPK)
		}
		return "fixed", "0", ""
	case classTime:
		switch c.dataType {
		case "date":
			return "fixed", "1970-01-01", ""
		case "time":
			return "fixed", "00:00:00", ""
		}
		return "fixed", "1970-01-01 00:00:00", ""
	case classSpatial:
		return "sql", "", "POINT(0, 0)"
	case classInet:
		return "local_ip", "", ""
	}
	return "text", "", ""
}

// sample reads a bounded sample of the table's text columns.
func (t *tdesc) sample(ctx context.Context, q Querier, o Options) (map[string]*stats, error) {
	var cols []*cdesc
	for _, c := range t.cols {
		if c.cl == classText {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return nil, nil
	}
	n := o.SampleRows
	if n == 0 {
		n = DefaultSampleRows
	}
	width := o.MaxValueBytes
	if width <= 0 {
		width = 256
	}
	var sel strings.Builder
	for i, c := range cols {
		if i > 0 {
			sel.WriteString(", ")
		}
		fmt.Fprintf(&sel, "LEFT(%s, %d)", sqltext.QuoteIdent(c.name), width)
	}
	from := sqltext.QuoteIdent(t.name)
	query := "SELECT " + sel.String() + " FROM " + from + " LIMIT " + strconv.Itoa(n)
	var args []any
	if t.intPK != "" && t.rows > int64(2*n) {
		starts, err := t.sliceStarts(ctx, q, 4)
		if err != nil {
			return nil, err
		}
		if len(starts) > 0 {
			pk := sqltext.QuoteIdent(t.intPK)
			per := (n + len(starts) - 1) / len(starts)
			parts := make([]string, len(starts))
			for i := range starts {
				parts[i] = "(SELECT " + sel.String() + " FROM " + from + " WHERE " + pk + " >= ? ORDER BY " + pk +
					" LIMIT " + strconv.Itoa(per) + ")"
			}
			query = strings.Join(parts, " UNION ALL ")
			args = starts
		}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("scan %q: sample values: %w", t.name, mysqldb.Explain(err))
	}
	defer rows.Close()
	out := make(map[string]*stats, len(cols))
	for _, c := range cols {
		out[c.name] = &stats{}
	}
	vals := make([][]byte, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("scan %q: sample values: %w", t.name, err)
		}
		for i, c := range cols {
			if vals[i] != nil {
				out[c.name].add(vals[i])
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan %q: sample values: %w", t.name, mysqldb.Explain(err))
	}
	return out, nil
}

// sliceStarts returns k primary-key values spread evenly from the smallest
// to the largest key (read from the index ends, not by scanning), as
// int64 or uint64 arguments.
func (t *tdesc) sliceStarts(ctx context.Context, q Querier, k int) ([]any, error) {
	pk := sqltext.QuoteIdent(t.intPK)
	rows, err := q.QueryContext(ctx, "SELECT MIN("+pk+"), MAX("+pk+") FROM "+sqltext.QuoteIdent(t.name))
	if err != nil {
		return nil, fmt.Errorf("scan %q: key range: %w", t.name, mysqldb.Explain(err))
	}
	defer rows.Close()
	var lo, hi []byte
	if rows.Next() {
		if err := rows.Scan(&lo, &hi); err != nil {
			return nil, fmt.Errorf("scan %q: key range: %w", t.name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan %q: key range: %w", t.name, mysqldb.Explain(err))
	}
	if lo == nil || hi == nil {
		return nil, nil // empty table
	}
	a, ok1 := new(big.Int).SetString(string(lo), 10)
	b, ok2 := new(big.Int).SetString(string(hi), 10)
	if !ok1 || !ok2 {
		return nil, nil
	}
	span := new(big.Int).Sub(b, a)
	unsigned := strings.Contains(strings.ToLower(t.pkType), "unsigned")
	out := make([]any, 0, k)
	for i := 0; i < k; i++ {
		v := new(big.Int).Mul(span, big.NewInt(int64(i)))
		v.Quo(v, big.NewInt(int64(k)))
		v.Add(v, a)
		if unsigned {
			out = append(out, v.Uint64())
		} else {
			out = append(out, v.Int64())
		}
	}
	return out, nil
}

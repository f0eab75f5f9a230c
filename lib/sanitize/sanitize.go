package sanitize

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

// Bcrypt is the output of type "hash": the static bcrypt hash of "password"
// (Laravel's factory default), so a developer can log in as anyone.
const Bcrypt = "$2y$10$92IXUNpkjO0rOQ5byMi.Ye4oKoEa3Ro9llC/.og/at2.uheWG/igi"

// SaltVar is the session variable holding the salt, without the "@": a
// string in the connection's character set, for "sql" rules.
const SaltVar = "bf_salt"

// SaltBinVar holds the same salt as a binary string, for the built-in
// types: CONCAT with it is a binary string of the column's own bytes, so
// utf8mb4 text needs no per-row CAST and no collation is reconciled. "sql"
// rules keep reading the text @bf_salt, whose CONCAT converts a column of
// another character set as it always did.
const SaltBinVar = "bf_salt_bin"

// uniqueHex is the number of hex characters of H (128 bits) a UNIQUE column
// needs before a hash slice is trusted to be collision-free.
const uniqueHex = 32

// Plan is the compiled projection of one table.
type Plan struct {
	Table   *schema.Table
	Columns []Column // the stored columns, in table order
	Vars    []Var    // session variables the projections read, in order
}

// Column is one projected column.
type Column struct {
	*schema.Column
	Kind sqltext.Kind
	// Expr is the SQL expression projected for the column. It reads only
	// the row's columns, constants and the plan's variables.
	Expr string
	// Rule is the column's rule, nil when it has none.
	Rule *config.Rule
	// Key is the rule's configuration key ("sanitize.users.email").
	Key string
	// MaxLen, when positive, is the column width a value must fit: set for
	// key-derived outputs, whose length grows with the key. It counts
	// characters, or bytes when Bytes is set.
	MaxLen int64
	Bytes  bool
}

// Sanitized reports whether the column is projected through a rule that
// changes it (every type but "keep").
func (c *Column) Sanitized() bool { return c.Rule != nil && c.Rule.Type != "keep" }

// Var is a session variable set with a bound parameter before the SELECT.
type Var struct {
	Name  string // without the "@"
	Value string
	About string // what it holds, for --explain; never the value
	// Binary makes the variable a binary string (the salt): CONCAT with
	// it then hashes a column's bytes as they are, with no per-row CAST
	// and no collation to reconcile.
	Binary bool
}

// Pattern turns an exclude pattern into a LIKE pattern for ESCAPE '!':
// `*` becomes `%`, and `%`, `_` and the escape character `!` are escaped, so
// that every character but `*` stands for itself.
func Pattern(glob string) string {
	var b strings.Builder
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteByte('%')
		case '%', '_', '!':
			b.WriteByte('!')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Compile validates the rules of table t against its columns and builds
// its projection. Every problem is a *config.Error naming the rule's key
// (exit status 2); several are reported together as config.Errors.
func Compile(cfg *config.Config, t *schema.Table) (*Plan, error) {
	p := &Plan{Table: t}
	rules := cfg.Sanitize[t.Name]
	var es config.Errors
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		key := "sanitize." + t.Name + "." + name
		c, ok := t.Column(name)
		switch {
		case !ok:
			es = append(es, cfg.Errorf(key, "column %q does not exist in table %q", name, t.Name))
		case c.Generated && rules[name].Type != "keep":
			es = append(es, cfg.Errorf(key, "column %q of table %q is generated: it is never dumped, so it needs no rule (sanitize the columns it is computed from)", name, t.Name))
		}
	}
	var needText, needBin bool // which salt variables the projections read
	for _, c := range t.Stored() {
		col := Column{Column: c, Kind: sqltext.KindOfColumn(c.DataType, c.Type, c.Charset)}
		col.Expr = plain(c, col.Kind)
		if r, ok := rules[c.Name]; ok {
			r := r
			col.Rule = &r
			col.Key = "sanitize." + t.Name + "." + c.Name
			b := &builder{cfg: cfg, plan: p, t: t, c: c, kind: col.Kind, rule: &r, key: col.Key}
			if err := b.build(&col); err != nil {
				es = append(es, err)
				continue
			}
			needText = needText || b.saltText
			needBin = needBin || b.saltBin
		}
		p.Columns = append(p.Columns, col)
	}
	if len(es) > 0 {
		return nil, es
	}
	// Only the variables read are set: the salt sits in no more session
	// variables than it must.
	var salts []Var
	if needText {
		salts = append(salts, Var{Name: SaltVar, Value: cfg.Server.Salt, About: "[server] salt"})
	}
	if needBin {
		salts = append(salts, Var{Name: SaltBinVar, Value: cfg.Server.Salt, About: "[server] salt, as a binary string", Binary: true})
	}
	p.Vars = append(salts, p.Vars...)
	return p, nil
}

// NeedsSalt reports whether a projection reads @bf_salt or @bf_salt_bin.
func (p *Plan) NeedsSalt() bool {
	for _, v := range p.Vars {
		if v.Name == SaltVar || v.Name == SaltBinVar {
			return true
		}
	}
	return false
}

// saltRefs finds @bf_salt and @bf_salt_bin in an "sql" rule's expression.
var saltRefs = regexp.MustCompile(`(?i)@` + SaltVar + `(_bin)?([^a-z0-9_$]|$)`)

// AddVar adds a session variable for the caller's own predicates (the delta
// cut-off, subset parameters). name must be a plain identifier starting
// with "bf_" and not used yet.
func (p *Plan) AddVar(name, value, about string) error {
	if !varName.MatchString(name) {
		return fmt.Errorf("session variable %q: want bf_ and lowercase letters, digits or _", name)
	}
	for _, v := range p.Vars {
		if v.Name == name {
			return fmt.Errorf("session variable @%s is set twice", name)
		}
	}
	p.Vars = append(p.Vars, Var{Name: name, Value: value, About: about})
	return nil
}

var varName = regexp.MustCompile(`^bf_[a-z0-9_]+$`)

// SetStatement returns the statement that sets every variable, with one
// placeholder per variable, and its arguments; "" when there is none.
func (p *Plan) SetStatement() (string, []any) {
	if len(p.Vars) == 0 {
		return "", nil
	}
	parts := make([]string, len(p.Vars))
	args := make([]any, len(p.Vars))
	for i, v := range p.Vars {
		parts[i] = "@" + v.Name + " = ?"
		if v.Binary {
			parts[i] = "@" + v.Name + " = CAST(? AS BINARY)"
		}
		args[i] = v.Value
	}
	return "SET " + strings.Join(parts, ", "), args
}

// ClearStatement returns the statement that sets every variable back to
// NULL, so that the salt does not outlive the dump in a pooled session; ""
// when there is none.
func (p *Plan) ClearStatement() string {
	if len(p.Vars) == 0 {
		return ""
	}
	parts := make([]string, len(p.Vars))
	for i, v := range p.Vars {
		parts[i] = "@" + v.Name + " = NULL"
	}
	return "SET " + strings.Join(parts, ", ")
}

// SelectList returns the projections, comma-separated, in column order.
func (p *Plan) SelectList() string {
	exprs := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		exprs[i] = c.Expr
	}
	return strings.Join(exprs, ", ")
}

// Names returns the projected column names, in order.
func (p *Plan) Names() []string {
	out := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		out[i] = c.Name
	}
	return out
}

// Kinds returns the projected columns' kinds, in order.
func (p *Plan) Kinds() []sqltext.Kind {
	out := make([]sqltext.Kind, len(p.Columns))
	for i, c := range p.Columns {
		out[i] = c.Kind
	}
	return out
}

// Sanitized returns the names of the columns projected through a rule that
// changes them.
func (p *Plan) Sanitized() []string {
	var out []string
	for _, c := range p.Columns {
		if c.Sanitized() {
			out = append(out, c.Name)
		}
	}
	return out
}

// Picks reports whether v is a value type typ can write by picking from
// its lists: a real name on the list of type "name" comes out unchanged by
// chance (1 time in 32 per part), which is a coincidence of H, not the
// original leaking.
func Picks(typ, v string) bool {
	if typ != "name" {
		return false
	}
	first, last, ok := strings.Cut(v, " ")
	if !ok {
		return slices.Contains(firstNames, v) || slices.Contains(lastNames, v)
	}
	return slices.Contains(firstNames, first) && slices.Contains(lastNames, last)
}

// plain is the projection of an unsanitized column.
func plain(c *schema.Column, k sqltext.Kind) string {
	q := sqltext.QuoteIdent(c.Name)
	if k == sqltext.KindFloat {
		// The text protocol prints FLOAT with six digits; the double
		// holds the stored float exactly.
		return "CAST(" + q + " AS DOUBLE)"
	}
	return q
}

// category groups columns by what a text-producing rule may write into them.
type category int

const (
	catOther  category = iota
	catText            // char, varchar and the text types, with a character set
	catBinary          // binary, varbinary, blobs, or any string type with charset binary
	catInt             // integer types
)

var textTypes = map[string]bool{"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true}

func categoryOf(c *schema.Column, k sqltext.Kind) category {
	switch {
	case k == sqltext.KindBinary:
		return catBinary
	case k == sqltext.KindText && textTypes[c.DataType]:
		return catText
	case k == sqltext.KindInt || k == sqltext.KindUint:
		return catInt
	}
	return catOther
}

// builder compiles one rule.
type builder struct {
	cfg  *config.Config
	plan *Plan
	t    *schema.Table
	c    *schema.Column
	kind sqltext.Kind
	rule *config.Rule
	key  string
	// saltText and saltBin are set when the output reads @bf_salt or
	// @bf_salt_bin.
	saltText, saltBin bool
	// hashed is set once the output reads H of the value: every function
	// on the way returns NULL for NULL, so NULL stays NULL without a CASE.
	hashed bool
}

func (b *builder) errorf(format string, args ...any) *config.Error {
	return b.cfg.Errorf(b.key, format, args...)
}

func (b *builder) q() string { return sqltext.QuoteIdent(b.c.Name) }

func (b *builder) cat() category { return categoryOf(b.c, b.kind) }

// width is the column's width in characters (bytes for binary columns); 0
// for columns without one.
func (b *builder) width() int64 { return b.c.MaxChars }

// valueBytes is the original value as bytes for hashing: text converted to
// utf8mb4 first, so that the same text hashes the same in any character set.
// Text already in utf8mb4, utf8mb3 or ascii has those bytes: it goes into
// the CONCAT as it is, which the binary @bf_salt_bin makes a binary string of
// the column's own bytes (no per-row CAST: each function a row goes
// through costs the server about as much as the SHA2 itself).
func (b *builder) valueBytes() string {
	if b.cat() == catText && utf8Bytes[strings.ToLower(b.c.Charset)] {
		return b.q()
	}
	if b.cat() == catText || (b.kind == sqltext.KindText && b.c.Charset != "") || b.kind == sqltext.KindEnum || b.kind == sqltext.KindSet {
		return "CAST(CONVERT(" + b.q() + " USING utf8mb4) AS BINARY)"
	}
	return "CAST(" + b.q() + " AS BINARY)"
}

// utf8Bytes are the character sets whose bytes are already utf8mb4.
var utf8Bytes = map[string]bool{"utf8mb4": true, "utf8mb3": true, "utf8": true, "ascii": true}

// binText is the text column as utf8mb4 with an explicit utf8mb4_bin
// collation: exact comparisons, and a collation that wins over a session
// variable's in CASE and LIKE.
func (b *builder) binText() string {
	if b.cat() == catText && strings.EqualFold(b.c.Charset, "utf8mb4") {
		return b.q() + " COLLATE utf8mb4_bin"
	}
	return "CONVERT(" + b.q() + " USING utf8mb4) COLLATE utf8mb4_bin"
}

// kept is the column itself where an exclude pattern keeps it. Text is
// given an explicit utf8mb4_bin collation so that CASE never meets two
// implicit collations (the column's and a session variable's); the bytes
// delivered are the same utf8mb4 the plain column would give.
func (b *builder) kept() string {
	if b.c.Charset != "" && b.c.Charset != "binary" && b.kind != sqltext.KindBinary {
		return b.binText()
	}
	return plain(b.c, b.kind)
}

// h is the 64-hex-digit source of every generated output.
func (b *builder) h() string {
	if b.rule.Random {
		return "SHA2(UUID(), 256)"
	}
	b.saltBin, b.hashed = true, true
	return "SHA2(CONCAT(@" + SaltBinVar + ", ':" + b.rule.Type + ":', " + b.valueBytes() + "), 256)"
}

// hex is the first n hex digits of H.
func (b *builder) hex(n int64) string {
	return "LEFT(" + b.h() + ", " + strconv.FormatInt(n, 10) + ")"
}

// bits is the number formed by n bits of CRC32(H) from bit shift up
// (shift+n <= 32): a uniform number below 2^n. CRC32 of H is the cheapest
// way the server has to turn H into an integer; it costs a third of
// CAST(CONV(SUBSTR(H, ..), 16, 10) AS UNSIGNED) (measured in the issue 3
// note), and H, not the CRC, carries the key.
func (b *builder) bits(shift, n int) string {
	crc := "CRC32(" + b.h() + ")"
	if shift > 0 {
		crc = "(" + crc + " >> " + strconv.Itoa(shift) + ")"
	}
	if shift+n >= 32 {
		return crc
	}
	return "(" + crc + " & " + strconv.Itoa(1<<n-1) + ")"
}

// unique reports whether the column belongs to the primary key or a UNIQUE key.
func (b *builder) unique() bool {
	for _, k := range append([][]string{b.t.PrimaryKey}, b.t.UniqueKeys...) {
		for _, c := range k {
			if c == b.c.Name {
				return true
			}
		}
	}
	return false
}

// keyExpr is an SQL expression injective over the table's rows built from
// an integer key that does not contain the column itself: the primary key,
// else a UNIQUE key of NOT NULL integer columns. single reports whether it
// is one column (a number rather than text).
func (b *builder) keyExpr() (expr string, single, ok bool) {
	cands := append([][]string{b.t.PrimaryKey}, b.t.UniqueKeys...)
	for i, k := range cands {
		if len(k) == 0 {
			continue
		}
		good := true
		for _, name := range k {
			c, found := b.t.Column(name)
			if !found || name == b.c.Name || (i > 0 && c.Nullable) {
				good = false
				break
			}
			if kk := sqltext.KindOf(c.DataType, c.Type); kk != sqltext.KindInt && kk != sqltext.KindUint {
				good = false
				break
			}
		}
		if !good {
			continue
		}
		if len(k) == 1 {
			return sqltext.QuoteIdent(k[0]), true, true
		}
		q := make([]string, len(k))
		for j, name := range k {
			q[j] = sqltext.QuoteIdent(name)
		}
		return "CONCAT_WS('-', " + strings.Join(q, ", ") + ")", false, true
	}
	return "", false, false
}

// needKey returns the key expression or the error for a UNIQUE column that
// is too narrow for a hash slice and has no integer key to derive from.
func (b *builder) needKey(need int64) (string, bool, *config.Error) {
	k, single, ok := b.keyExpr()
	if !ok {
		return "", false, b.errorf("column %q of table %q is UNIQUE and %d characters wide, too narrow for collision-free %q values (%d needed) and the table has no integer key to derive them from; widen the column or use type \"sql\"",
			b.c.Name, b.t.Name, b.width(), b.rule.Type, need)
	}
	return k, single, nil
}

func (b *builder) requireText(minWidth int64) *config.Error {
	switch b.cat() {
	case catText, catBinary:
	default:
		return b.errorf("type %q writes text, but column %q of table %q is %s; use \"fixed\", \"null\" or \"sql\"", b.rule.Type, b.c.Name, b.t.Name, b.c.Type)
	}
	if b.width() < minWidth {
		return b.errorf("type %q needs a column of at least %d characters, but column %q of table %q is %s", b.rule.Type, minWidth, b.c.Name, b.t.Name, b.c.Type)
	}
	return nil
}

// keyDerived marks col as holding a key-derived value that must be checked
// against the column width.
func (b *builder) keyDerived(col *Column) {
	col.MaxLen = b.width()
	col.Bytes = b.cat() == catBinary
}

func (b *builder) build(col *Column) *config.Error {
	r := b.rule
	if r.Random {
		switch r.Type {
		case "hash", "null", "fixed", "sql", "keep":
			return b.errorf("random = true has no meaning for type %q", r.Type)
		}
	}
	w := b.width()
	var expr string
	switch r.Type {
	case "keep":
		return nil

	case "sql":
		expr = "(" + r.Expr + ")"
		for _, m := range saltRefs.FindAllStringSubmatch(r.Expr, -1) {
			if m[1] == "" {
				b.saltText = true
			} else {
				b.saltBin = true
			}
		}
		match, err := b.match()
		if err != nil {
			return err
		}
		if match != "" {
			expr = "CASE WHEN " + match + " THEN " + b.kept() + " ELSE " + expr + " END"
		}
		col.Expr = expr
		return nil

	case "null":
		if !b.c.Nullable {
			return b.errorf("type \"null\" on column %q of table %q, which is NOT NULL; use \"fixed\" or another type", b.c.Name, b.t.Name)
		}
		expr = "NULL"

	case "email":
		const suffix = "'@example.test'"
		if err := b.requireText(14); err != nil {
			return err
		}
		switch {
		case !b.unique():
			expr = "CONCAT(" + b.hex(min(uniqueHex, w-13)) + ", " + suffix + ")"
		case w >= uniqueHex+13:
			expr = "CONCAT(" + b.hex(uniqueHex) + ", " + suffix + ")"
		default:
			k, _, err := b.needKey(uniqueHex + 13)
			if err != nil {
				return err
			}
			expr = "CONCAT('u', " + k + ", " + suffix + ")"
			b.keyDerived(col)
		}

	case "name":
		if err := b.requireText(1); err != nil {
			return err
		}
		switch {
		case !b.unique():
			first := "ELT(1 + " + b.bits(0, 5) + ", " + quoteList(firstNames) + ")"
			last := "ELT(1 + " + b.bits(5, 5) + ", " + quoteList(lastNames) + ")"
			n := strings.ToLower(b.c.Name)
			switch {
			case containsAny(n, "first", "given", "fname", "forename"):
				expr = first
			case containsAny(n, "last", "sur", "family", "lname"):
				expr = last
			default:
				expr = "CONCAT(" + first + ", ' ', " + last + ")"
			}
			expr = "LEFT(" + expr + ", " + strconv.FormatInt(w, 10) + ")"
		case w >= uniqueHex+5:
			expr = "CONCAT('User_', " + b.hex(uniqueHex) + ")"
		default:
			k, _, err := b.needKey(uniqueHex + 5)
			if err != nil {
				return err
			}
			expr = "CONCAT('User_', " + k + ")"
			b.keyDerived(col)
		}

	case "phone":
		if b.cat() == catInt {
			if b.c.DataType != "bigint" {
				return b.errorf("type \"phone\" on integer column %q of table %q needs BIGINT (a phone number has 11 digits), not %s; use \"fixed\" or \"sql\"", b.c.Name, b.t.Name, b.c.Type)
			}
			if !b.unique() {
				expr = "15550000000 + " + b.bits(0, 32) + " % 10000000"
				break
			}
			k, single, err := b.needKey(0)
			if err != nil {
				return err
			}
			if !single {
				return b.errorf("type \"phone\" on UNIQUE integer column %q of table %q needs a one-column integer key to derive numbers from; use \"sql\"", b.c.Name, b.t.Name)
			}
			expr = "15550000000 + " + k
			break
		}
		if err := b.requireText(1); err != nil {
			return err
		}
		if !b.unique() {
			expr = "LEFT(CONCAT('+1555', LPAD(" + b.bits(0, 32) + " % 10000000, 7, '0')), " + strconv.FormatInt(w, 10) + ")"
			break
		}
		// Digits cannot hold 128 bits in a phone-sized column: always
		// derive from the key, padded to at least seven digits but never
		// cut (the original package's LPAD(id, 7) repeats after 10 M ids).
		k, _, err := b.needKey(5 + 39)
		if err != nil {
			return err
		}
		expr = "CONCAT('+1555', LPAD(" + k + ", GREATEST(7, CHAR_LENGTH(" + k + ")), '0'))"
		b.keyDerived(col)

	case "text":
		if err := b.requireText(1); err != nil {
			return err
		}
		switch {
		case !b.unique() && w > 5:
			expr = "CONCAT('text_', " + b.hex(min(uniqueHex, w-5)) + ")"
		case !b.unique():
			expr = b.hex(w)
		case w >= uniqueHex+5:
			expr = "CONCAT('text_', " + b.hex(uniqueHex) + ")"
		default:
			k, _, err := b.needKey(uniqueHex + 5)
			if err != nil {
				return err
			}
			expr = "CONCAT('text_', " + k + ")"
			b.keyDerived(col)
		}

	case "hash":
		if err := b.requireText(int64(len(Bcrypt))); err != nil {
			return err
		}
		if b.unique() {
			return b.errorf("type \"hash\" writes the same value into every row, but column %q of table %q is UNIQUE; use \"text\" or \"sql\"", b.c.Name, b.t.Name)
		}
		// The constant has no quote or backslash: it means the same
		// under every sql_mode.
		expr = "'" + Bcrypt + "'"

	case "address":
		const suffix = "' Example St'"
		if err := b.requireText(1); err != nil {
			return err
		}
		switch {
		case !b.unique():
			expr = "LEFT(CONCAT(1 + " + b.bits(0, 16) + " % 9999, ' ', ELT(1 + " + b.bits(16, 4) + ", " + quoteList(streets) + "), ' St'), " + strconv.FormatInt(w, 10) + ")"
		case w >= uniqueHex+11:
			expr = "CONCAT(" + b.hex(uniqueHex) + ", " + suffix + ")"
		default:
			k, _, err := b.needKey(uniqueHex + 11)
			if err != nil {
				return err
			}
			expr = "CONCAT(" + k + ", " + suffix + ")"
			b.keyDerived(col)
		}

	case "local_ip":
		e, err := b.localIP(col)
		if err != nil {
			return err
		}
		expr = e

	case "fixed":
		if err := b.checkFixed(*r.Value); err != nil {
			return err
		}
		name := fmt.Sprintf("bf_v%d", len(b.plan.Vars)+1)
		b.plan.Vars = append(b.plan.Vars, Var{Name: name, Value: *r.Value, About: "value of " + b.key})
		expr = "@" + name

	default:
		return b.errorf("unknown sanitize type %q; one of %s", r.Type, strings.Join(config.SanitizeTypes, ", "))
	}

	match, err := b.match()
	if err != nil {
		return err
	}
	var cases []string
	if b.c.Nullable && r.Type != "null" && !b.hashed {
		cases = append(cases, "WHEN "+b.q()+" IS NULL THEN NULL")
	}
	if match != "" {
		cases = append(cases, "WHEN "+match+" THEN "+b.kept())
	}
	if len(cases) > 0 {
		expr = "CASE " + strings.Join(cases, " ") + " ELSE " + expr + " END"
	}
	col.Expr = expr
	return nil
}

// localIP builds type local_ip for the column's type.
func (b *builder) localIP(col *Column) (string, *config.Error) {
	var dotted string // 192.168.x.y, or 10.0.0.0 + key for UNIQUE columns
	var number string
	if b.unique() {
		k, single, err := b.needKey(0)
		if err != nil {
			return "", err
		}
		if !single {
			return "", b.errorf("type \"local_ip\" on UNIQUE column %q of table %q needs a one-column integer key to derive addresses from; use \"sql\"", b.c.Name, b.t.Name)
		}
		// Unique for keys below 2^32 - 10.0.0.0; keys past 2^24 leave
		// 10.0.0.0/8 but stay unique.
		number = "167772160 + " + k
	} else {
		number = "3232235520 + " + b.bits(0, 16)
	}
	dotted = "INET_NTOA(" + number + ")"
	switch b.cat() {
	case catText:
		if b.width() < 15 {
			return "", b.errorf("type \"local_ip\" needs a column of at least 15 characters, but column %q of table %q is %s", b.c.Name, b.t.Name, b.c.Type)
		}
		return dotted, nil
	case catInt:
		if !(b.c.DataType == "bigint" || (b.c.DataType == "int" && b.kind == sqltext.KindUint)) {
			return "", b.errorf("type \"local_ip\" on integer column %q of table %q needs INT UNSIGNED or BIGINT to hold an IPv4 address, not %s", b.c.Name, b.t.Name, b.c.Type)
		}
		return number, nil
	case catBinary:
		switch {
		case b.c.DataType == "binary" && b.width() == 16:
			return "INET6_ATON(CONCAT('::ffff:', " + dotted + "))", nil
		case b.width() >= 4:
			return "INET6_ATON(" + dotted + ")", nil
		}
	}
	switch b.c.DataType {
	case "inet4":
		return dotted, nil
	case "inet6":
		return "CONCAT('::ffff:', " + dotted + ")", nil
	}
	return "", b.errorf("type \"local_ip\" cannot write column %q of table %q (%s); it takes text of 15+ characters, inet4, inet6, INT UNSIGNED, BIGINT or binary of 4+ bytes", b.c.Name, b.t.Name, b.c.Type)
}

var (
	intRe = regexp.MustCompile(`^[+-]?[0-9]+$`)
	numRe = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
)

// checkFixed validates a fixed value against the column.
func (b *builder) checkFixed(v string) *config.Error {
	if b.unique() {
		return b.errorf("type \"fixed\" writes the same value into every row, but column %q of table %q is UNIQUE; use another type or \"sql\"", b.c.Name, b.t.Name)
	}
	switch b.kind {
	case sqltext.KindBit, sqltext.KindSpatial:
		return b.errorf("type \"fixed\" cannot write %s column %q of table %q; use \"sql\" (e.g. ST_GeomFromText('POINT(0 0)') or b'0')", b.c.Type, b.c.Name, b.t.Name)
	case sqltext.KindInt, sqltext.KindUint, sqltext.KindYear:
		if !intRe.MatchString(v) {
			return b.errorf("value %q is not an integer, but column %q of table %q is %s", v, b.c.Name, b.t.Name, b.c.Type)
		}
	case sqltext.KindDecimal, sqltext.KindFloat, sqltext.KindDouble:
		if !numRe.MatchString(v) {
			return b.errorf("value %q is not a number, but column %q of table %q is %s", v, b.c.Name, b.t.Name, b.c.Type)
		}
	case sqltext.KindJSON:
		if !json.Valid([]byte(v)) {
			return b.errorf("value %q is not JSON, but column %q of table %q is %s", v, b.c.Name, b.t.Name, b.c.Type)
		}
	case sqltext.KindEnum, sqltext.KindSet:
		members, ok := enumMembers(b.c.Type)
		if !ok {
			break
		}
		vals := []string{v}
		if b.kind == sqltext.KindSet {
			vals = nil
			if v != "" {
				vals = strings.Split(v, ",")
			}
		}
		for _, x := range vals {
			if !containsFold(members, x) {
				return b.errorf("value %q is not one of %s, the values of column %q of table %q", x, b.c.Type, b.c.Name, b.t.Name)
			}
		}
	}
	switch b.cat() {
	case catText:
		if n := int64(utf8.RuneCountInString(v)); n > b.width() {
			return b.errorf("value is %d characters, but column %q of table %q holds %d", n, b.c.Name, b.t.Name, b.width())
		}
	case catBinary:
		if n := int64(len(v)); n > b.width() {
			return b.errorf("value is %d bytes, but column %q of table %q holds %d", n, b.c.Name, b.t.Name, b.width())
		}
	}
	return nil
}

// match is the SQL condition true where an exclude pattern keeps the
// original value; "" without patterns. The patterns are bound variables.
func (b *builder) match() (string, *config.Error) {
	if len(b.rule.Exclude) == 0 {
		return "", nil
	}
	var lhs string
	if b.c.Charset != "" && b.c.Charset != "binary" && b.kind != sqltext.KindBinary {
		lhs = b.binText()
	} else {
		lhs = "CAST(" + b.q() + " AS BINARY)"
	}
	conds := make([]string, len(b.rule.Exclude))
	for i, pat := range b.rule.Exclude {
		if pat == "" {
			return "", b.errorf("empty exclude pattern")
		}
		name := fmt.Sprintf("bf_x%d", len(b.plan.Vars)+1)
		b.plan.Vars = append(b.plan.Vars, Var{Name: name, Value: Pattern(pat), About: fmt.Sprintf("exclude pattern %d of %s", i+1, b.key)})
		conds[i] = lhs + " LIKE @" + name + " ESCAPE '!'"
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", nil
}

// enumMembers parses enum('a','b') or set('a','b') into its values.
func enumMembers(colType string) ([]string, bool) {
	i := strings.IndexByte(colType, '(')
	if i < 0 || !strings.HasSuffix(colType, ")") {
		return nil, false
	}
	s := colType[i+1 : len(colType)-1]
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, false
		}
		var v strings.Builder
		j := 1
		for ; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					v.WriteByte('\'')
					j++
					continue
				}
				break
			}
			v.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, false
		}
		out = append(out, v.String())
		s = s[j+1:]
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		}
	}
	return out, true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// quoteList writes constant ASCII words (no quote or backslash, so they mean
// the same under every sql_mode) as a comma-separated list of SQL strings.
func quoteList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, ", ")
}

// 32 first names, 32 last names and 16 street names: the output pools of
// "name" and "address". Plain ASCII letters only (see quoteList).
var (
	firstNames = []string{
		"Ada", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo",
		"Ines", "Jonas", "Kemal", "Lena", "Mateo", "Nora", "Omar", "Paula",
		"Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena",
		"Yusuf", "Zoe", "Amara", "Bruno", "Carmen", "Diego", "Esther", "Felix",
	}
	lastNames = []string{
		"Moreau", "Schmidt", "Rossi", "Novak", "Silva", "Kowalski", "Jensen", "Garcia",
		"Okafor", "Tanaka", "Dubois", "Larsen", "Costa", "Weber", "Nguyen", "Haddad",
		"Fischer", "Lopez", "Ivanova", "Murphy", "Berg", "Khan", "Petrov", "Santos",
		"Meyer", "Ali", "Romano", "Kim", "Brown", "Yilmaz", "Horvat", "Lindqvist",
	}
	streets = []string{
		"Maple", "Oak", "Cedar", "Elm", "Pine", "Birch", "Willow", "Aspen",
		"Linden", "Chestnut", "Hazel", "Juniper", "Laurel", "Alder", "Rowan", "Spruce",
	}
)

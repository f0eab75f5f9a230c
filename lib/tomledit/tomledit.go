// Package tomledit updates a TOML document in place, keeping everything it
// does not touch byte for byte: comments, blank lines, key order, quoting
// style and the values of other keys.
//
// go-toml v2 decodes and encodes TOML but drops comments on the way, and a
// configuration file is where people explain their choices. This package
// parses the document only to find where each key and table is, then edits
// the text:
//
//   - [Doc.Set] replaces the value of an existing key (a trailing comment on
//     its line stays), or inserts "key = value" after the last key of its
//     table, or appends a new [table] section at the end of the document;
//   - [Doc.Add] does the same but never overwrites an existing key;
//   - setting a key to a value equal to the current one (after decoding, so
//     'x' equals "x") changes nothing, which makes every edit idempotent.
//
// Keys defined through dotted keys ("auth.token = ...") and sections are
// both understood. A key inside an inline table or an array of tables cannot
// be edited: Set and Add return an error naming the line, and the document
// is left unchanged. Every edit re-parses the result, so a Doc never holds an
// invalid document.
package tomledit

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Doc is a TOML document being edited.
type Doc struct {
	src []byte
	idx *index
}

// Parse reads a TOML document. An empty document is fine.
func Parse(src []byte) (*Doc, error) {
	idx, err := build(src)
	if err != nil {
		return nil, err
	}
	return &Doc{src: append([]byte(nil), src...), idx: idx}, nil
}

// Bytes returns the document's current text.
func (d *Doc) Bytes() []byte { return append([]byte(nil), d.src...) }

// Lookup returns the raw TOML text of the value at key (for example
// `"127.0.0.1:8080"` with its quotes) and the line defining it.
func (d *Doc) Lookup(key ...string) (raw string, line int, ok bool) {
	kv := d.idx.find(key)
	if kv == nil {
		return "", 0, false
	}
	return string(d.src[kv.valStart:kv.valEnd]), kv.line, true
}

// String returns the decoded value of a string key, and whether the key
// exists and holds a string.
func (d *Doc) String(key ...string) (string, bool) {
	raw, _, ok := d.Lookup(key...)
	if !ok {
		return "", false
	}
	v, err := decodeValue(raw)
	if err != nil {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// Has reports whether key is defined, as a value or as a table.
func (d *Doc) Has(key ...string) bool {
	if d.idx.find(key) != nil {
		return true
	}
	for _, t := range d.idx.tables {
		if hasPrefix(t.path, key) {
			return true
		}
	}
	for _, kv := range d.idx.kvs {
		if hasPrefix(kv.path, key) {
			return true
		}
	}
	return false
}

// Set makes key hold value, the TOML text of a value (see [Quote]). It
// reports whether the document changed: an existing equal value is left as
// written.
func (d *Doc) Set(key []string, value string) (changed bool, err error) {
	return d.edit(key, value, "", true)
}

// Add inserts key = value only when key is not defined yet, with comment
// (if not empty) after it on the same line. It never overwrites.
func (d *Doc) Add(key []string, value, comment string) (added bool, err error) {
	return d.edit(key, value, comment, false)
}

func (d *Doc) edit(key []string, value, comment string, overwrite bool) (bool, error) {
	if len(key) == 0 {
		return false, fmt.Errorf("empty key")
	}
	name := strings.Join(key, ".")
	nv, err := decodeValue(value)
	if err != nil {
		return false, fmt.Errorf("set %s: invalid TOML value %q: %w", name, value, err)
	}
	if strings.ContainsAny(comment, "\r\n") {
		return false, fmt.Errorf("set %s: comment spans lines", name)
	}
	var out []byte
	if kv := d.idx.find(key); kv != nil {
		if !overwrite {
			return false, nil
		}
		old, err := decodeValue(string(d.src[kv.valStart:kv.valEnd]))
		if err == nil && reflect.DeepEqual(old, nv) {
			return false, nil
		}
		out = splice(d.src, kv.valStart, kv.valEnd, value)
	} else {
		if err := d.idx.conflict(key); err != nil {
			return false, fmt.Errorf("set %s: %w", name, err)
		}
		out = d.insert(key, value, comment)
	}
	idx, err := build(out)
	if err != nil {
		return false, fmt.Errorf("set %s: the edit would make the document invalid: %w", name, err)
	}
	var check map[string]any
	if err := toml.Unmarshal(out, &check); err != nil {
		return false, fmt.Errorf("set %s: the edit would make the document invalid: %w", name, err)
	}
	d.src, d.idx = out, idx
	return true, nil
}

// insert returns the document with a new key = value line at the right
// place: after the last key of key's table, after the last dotted key that
// defines that table, or in a new section at the end.
func (d *Doc) insert(key []string, value, comment string) []byte {
	table, leaf := key[:len(key)-1], key[len(key)-1]
	line := func(rel []string) string {
		s := joinKey(rel) + " = " + value
		if comment != "" {
			s += "  # " + comment
		}
		return s + "\n"
	}
	// A [table] header for exactly this table: after its last key, or
	// right after the header when it has none.
	if t := d.idx.table(table); t != nil {
		at := t.end
		if kv := d.idx.lastIn(t); kv != nil {
			at = kv.lineEnd
		}
		return insertLine(d.src, at, line([]string{leaf}))
	}
	// Keys of this table defined by dotted keys in an enclosing table
	// ("auth.token = ..." at the top level): add another dotted key there.
	if kv := d.idx.lastDotted(table); kv != nil {
		return insertLine(d.src, kv.lineEnd, line(append(append([]string{}, table[len(kv.table):]...), leaf)))
	}
	if len(table) == 0 {
		// A top-level key goes before the first table header and the
		// comment lines right above it, which belong to the header.
		if len(d.idx.tables) == 0 {
			return insertLine(d.src, len(d.src), line([]string{leaf}))
		}
		at := d.idx.tables[0].start
		for at > 0 {
			prev := lineStart(d.src, uint32(at-1))
			if !bytes.HasPrefix(bytes.TrimLeft(d.src[prev:at], " \t"), []byte("#")) {
				break
			}
			at = prev
		}
		return insertLine(d.src, at, line([]string{leaf})+"\n")
	}
	// A new section at the end.
	var b bytes.Buffer
	b.Write(d.src)
	if b.Len() > 0 {
		if !bytes.HasSuffix(d.src, []byte("\n")) {
			b.WriteByte('\n')
		}
		if !bytes.HasSuffix(b.Bytes(), []byte("\n\n")) {
			b.WriteByte('\n')
		}
	}
	b.WriteString("[" + joinKey(table) + "]\n")
	b.WriteString(line([]string{leaf}))
	return b.Bytes()
}

// insertLine inserts text (a whole line) at offset at, which is the start of
// a line or the end of the document.
func insertLine(src []byte, at int, text string) []byte {
	var b bytes.Buffer
	b.Write(src[:at])
	if at > 0 && src[at-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(text)
	b.Write(src[at:])
	return b.Bytes()
}

func splice(src []byte, from, to int, text string) []byte {
	out := make([]byte, 0, len(src)-(to-from)+len(text))
	out = append(out, src[:from]...)
	out = append(out, text...)
	return append(out, src[to:]...)
}

// Quote returns s as a TOML basic string. TOML text is UTF-8: bytes of s
// that are not valid UTF-8 become U+FFFD.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// QuoteList returns list as a TOML array of strings on one line.
func QuoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// QuoteKey returns k as a TOML key part: bare when it may be, quoted
// otherwise ("first name", "größe", "a.b").
func QuoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Quote(k)
		}
	}
	return k
}

func joinKey(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = QuoteKey(p)
	}
	return strings.Join(q, ".")
}

func decodeValue(raw string) (any, error) {
	var m map[string]any
	if err := toml.Unmarshal([]byte("v = "+raw), &m); err != nil {
		return nil, err
	}
	return m["v"], nil
}

func hasPrefix(path, prefix []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

func equal(a, b []string) bool { return len(a) == len(b) && hasPrefix(a, b) }

// index is where things are in the document.
type index struct {
	tables []*tableDef
	kvs    []*kvDef
}

// tableDef is a [table] or [[array]] header.
type tableDef struct {
	path  []string
	array bool
	start int // offset of the header line
	end   int // offset just after the header line
	line  int
}

// kvDef is one key = value expression.
type kvDef struct {
	path     []string // full path: table + key
	table    []string // the table (header) it appears under
	inTable  *tableDef
	inline   bool // the value is an inline table
	valStart int
	valEnd   int
	lineEnd  int // offset just after the line the value ends on
	line     int
}

func build(src []byte) (*index, error) {
	idx := &index{}
	var p unstable.Parser
	p.Reset(src)
	var cur *tableDef
	var curPath []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, first, last := keyInfo(e.Key())
			start := lineStart(src, first.Offset)
			end := lineEnd(src, int(last.Offset+last.Length))
			cur = &tableDef{path: parts, array: e.Kind == unstable.ArrayTable, start: start, end: end,
				line: p.Shape(first).Start.Line}
			curPath = parts
			idx.tables = append(idx.tables, cur)
		case unstable.KeyValue:
			parts, first, last := keyInfo(e.Key())
			_ = first
			// The value starts after the '=' that follows the last key part.
			i := int(last.Offset + last.Length)
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			if i >= len(src) || src[i] != '=' {
				return nil, fmt.Errorf("line %d: expected '='", p.Shape(first).Start.Line)
			}
			i++
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			end := int(e.Raw.Offset + e.Raw.Length)
			v := e.Value()
			idx.kvs = append(idx.kvs, &kvDef{
				path:     append(append([]string{}, curPath...), parts...),
				table:    curPath,
				inTable:  cur,
				inline:   v != nil && v.Kind == unstable.InlineTable,
				valStart: i,
				valEnd:   end,
				lineEnd:  lineEnd(src, end),
				line:     p.Shape(first).Start.Line,
			})
		}
	}
	if err := p.Error(); err != nil {
		if pe, ok := err.(*unstable.ParserError); ok && len(pe.Highlight) > 0 {
			return nil, fmt.Errorf("line %d: %s", p.Shape(p.Range(pe.Highlight)).Start.Line, pe.Message)
		}
		return nil, err
	}
	return idx, nil
}

// keyInfo returns the decoded parts of a key and the raw ranges of its first
// and last part.
func keyInfo(it unstable.Iterator) (parts []string, first, last unstable.Range) {
	n := 0
	for it.Next() {
		k := it.Node()
		parts = append(parts, string(k.Data))
		if n == 0 {
			first = k.Raw
		}
		last = k.Raw
		n++
	}
	return parts, first, last
}

func lineStart(src []byte, off uint32) int {
	i := int(off)
	for i > 0 && src[i-1] != '\n' {
		i--
	}
	return i
}

// lineEnd returns the offset just after the newline ending the line that
// contains offset i (or the document's end).
func lineEnd(src []byte, i int) int {
	if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(src)
}

func (x *index) find(key []string) *kvDef {
	for _, kv := range x.kvs {
		if equal(kv.path, key) {
			return kv
		}
	}
	return nil
}

func (x *index) table(path []string) *tableDef {
	for _, t := range x.tables {
		if !t.array && equal(t.path, path) {
			return t
		}
	}
	return nil
}

// lastIn returns the last key/value under header t.
func (x *index) lastIn(t *tableDef) *kvDef {
	var last *kvDef
	for _, kv := range x.kvs {
		if kv.inTable == t {
			last = kv
		}
	}
	return last
}

// lastDotted returns the last key/value that defines keys of table through
// a dotted key written in an enclosing table.
func (x *index) lastDotted(table []string) *kvDef {
	var last *kvDef
	for _, kv := range x.kvs {
		if len(kv.table) < len(table) && hasPrefix(kv.path, table) && len(kv.path) > len(table) {
			last = kv
		}
	}
	return last
}

// conflict explains why key cannot be added: a prefix of it holds a value
// (an inline table, say), key is itself a table, or it runs through an
// array of tables.
func (x *index) conflict(key []string) error {
	for _, kv := range x.kvs {
		if len(kv.path) < len(key) && hasPrefix(key, kv.path) {
			if kv.inline {
				return fmt.Errorf("%s is an inline table (line %d); edit it by hand", strings.Join(kv.path, "."), kv.line)
			}
			return fmt.Errorf("%s is not a table (line %d)", strings.Join(kv.path, "."), kv.line)
		}
		if len(kv.path) > len(key) && hasPrefix(kv.path, key) {
			return fmt.Errorf("%s is a table (line %d), not a value", strings.Join(key, "."), kv.line)
		}
	}
	for _, t := range x.tables {
		if hasPrefix(t.path, key) {
			return fmt.Errorf("%s is a table (line %d), not a value", strings.Join(key, "."), t.line)
		}
		if t.array && hasPrefix(key, t.path) {
			return fmt.Errorf("%s is an array of tables (line %d); edit it by hand", strings.Join(t.path, "."), t.line)
		}
	}
	return nil
}

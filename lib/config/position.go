package config

import (
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions maps dotted key paths to the line that defines them, so that
// errors found after decoding (an unknown table in a rule, say) still point
// into the file.
type positions map[string]int

func (p positions) line(key string) int {
	for key != "" {
		if l, ok := p[key]; ok {
			return l
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func indexPositions(data []byte) positions {
	pos := positions{}
	walk(data, func(p *unstable.Parser, key []string, n *unstable.Node) {
		pos.set(key, lineOf(p, n), p, n)
	})
	return pos
}

// walk calls visit for each table header and each key/value of data, those
// inside inline tables included, with its full key.
func walk(data []byte, visit func(p *unstable.Parser, key []string, n *unstable.Node)) {
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			prefix = keyParts(e.Key())
			visit(&p, prefix, e)
		case unstable.KeyValue:
			walkValue(&p, append(append([]string{}, prefix...), keyParts(e.Key())...), e, visit)
		}
	}
}

func (pos positions) set(key []string, line int, p *unstable.Parser, n *unstable.Node) {
	if line <= 0 {
		return
	}
	k := strings.Join(key, ".")
	if _, ok := pos[k]; !ok {
		pos[k] = line
	}
}

// walkValue visits a key/value and the keys of inline tables inside it.
func walkValue(p *unstable.Parser, key []string, kv *unstable.Node, visit func(p *unstable.Parser, key []string, n *unstable.Node)) {
	visit(p, key, kv)
	v := kv.Value()
	if v == nil || v.Kind != unstable.InlineTable {
		return
	}
	it := v.Children()
	for it.Next() {
		c := it.Node()
		if c.Kind == unstable.KeyValue {
			walkValue(p, append(append([]string{}, key...), keyParts(c.Key())...), c, visit)
		}
	}
}

func lineOf(p *unstable.Parser, n *unstable.Node) int {
	if n.Raw.Length > 0 {
		return p.Shape(n.Raw).Start.Line
	}
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if k.Raw.Length > 0 {
			return p.Shape(k.Raw).Start.Line
		}
	}
	return 0
}

func keyParts(it unstable.Iterator) []string {
	var out []string
	for it.Next() {
		out = append(out, string(it.Node().Data))
	}
	return out
}

// findInteger returns the key, line and column of the first integer
// written as text whose key is in keys (dotted paths), or line 0.
func findInteger(data []byte, text string, keys map[string]bool) (key string, line, col int) {
	walk(data, func(p *unstable.Parser, k []string, n *unstable.Node) {
		if line > 0 || n.Kind != unstable.KeyValue || !keys[strings.Join(k, ".")] {
			return
		}
		if v := n.Value(); v != nil && v.Kind == unstable.Integer && string(v.Data) == text && v.Raw.Length > 0 {
			at := p.Shape(v.Raw).Start
			key, line, col = strings.Join(k, "."), at.Line, at.Column
		}
	})
	return key, line, col
}

// durationKeys returns the dotted keys of every Duration in Config.
func durationKeys() map[string]bool {
	keys := map[string]bool{}
	var fields func(t reflect.Type, prefix string)
	fields = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			switch {
			case f.Type == reflect.TypeFor[Duration]():
				keys[prefix+name] = true
			case f.Type.Kind() == reflect.Struct:
				fields(f.Type, prefix+name+".")
			}
		}
	}
	fields(reflect.TypeFor[Config](), "")
	return keys
}

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
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			prefix = keyParts(e.Key())
			pos.set(prefix, lineOf(&p, e), &p, e)
		case unstable.KeyValue:
			full := append(append([]string{}, prefix...), keyParts(e.Key())...)
			walkValue(pos, &p, full, e)
		}
	}
	return pos
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

// walkValue records the line of a key/value and of the keys of inline tables
// inside it.
func walkValue(pos positions, p *unstable.Parser, key []string, kv *unstable.Node) {
	pos.set(key, lineOf(p, kv), p, kv)
	v := kv.Value()
	if v == nil || v.Kind != unstable.InlineTable {
		return
	}
	it := v.Children()
	for it.Next() {
		c := it.Node()
		if c.Kind == unstable.KeyValue {
			walkValue(pos, p, append(append([]string{}, key...), keyParts(c.Key())...), c)
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
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			prefix = keyParts(e.Key())
		case unstable.KeyValue:
			k := strings.Join(append(append([]string{}, prefix...), keyParts(e.Key())...), ".")
			v := e.Value()
			if keys[k] && v != nil && v.Kind == unstable.Integer && string(v.Data) == text && v.Raw.Length > 0 {
				at := p.Shape(v.Raw).Start
				return k, at.Line, at.Column
			}
		}
	}
	return "", 0, 0
}

// durationKeys returns the dotted keys of every Duration in Config.
func durationKeys() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			switch {
			case f.Type == reflect.TypeFor[Duration]():
				keys[prefix+name] = true
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

package sanitize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/backfill/backfill/lib/config"
)

// MaskingVersion is the version of the masking algorithm: the expressions
// [Compile] builds. Bump it in the same commit as any change that makes an
// expression give a different output for the same value, salt and rule (a
// new hash input, another slice of H, other name lists, another width
// rule): clients compare [Fingerprint]s, and a changed one makes their next
// pull a full one, so that no local row keeps the old masking next to rows
// masked the new way. Changes that give the same outputs (cheaper SQL, fewer
// session variables) keep the version.
//
// Versions: 1 is every algorithm before fingerprints existed (whatever a
// client pulled then); 2 is numbers and names from bits of CRC32(H), H over
// the binary @bf_salt_bin.
const MaskingVersion = 2

// fingerprintHex is the length of a fingerprint in hex characters (64 bits).
const fingerprintHex = 16

// Fingerprint returns the masking fingerprint of a table whose [sanitize]
// rules are rules: 16 lowercase hex characters that change whenever the
// table's masked values would (a rule added, removed or changed in any
// field, another salt, another [MaskingVersion]) and only then: the same
// configuration gives the same string in every run, whatever the order of
// the rules in the file. A table without rules has one too, so that its
// first rule is noticed. "keep" rules count as no rule: they leave the
// column as it is, as no rule does.
//
// It is HMAC-SHA256 keyed by the salt over a canonical encoding of the
// version and the rules, truncated: it reveals neither the salt nor
// anything that would help guess it.
func Fingerprint(salt string, rules map[string]config.Rule) string {
	return fingerprint(MaskingVersion, salt, rules)
}

func fingerprint(version int, salt string, rules map[string]config.Rule) string {
	// canonical is one rule with every field that decides its output,
	// exclude patterns in their order (the order is kept as written:
	// reordering them counts as a change, which costs one full pull).
	type canonical struct {
		Column  string   `json:"column"`
		Type    string   `json:"type"`
		Exclude []string `json:"exclude"`
		Random  bool     `json:"random"`
		Value   *string  `json:"value"`
		Expr    string   `json:"expr"`
	}
	doc := struct {
		Version int         `json:"version"`
		Rules   []canonical `json:"rules"`
	}{Version: version, Rules: []canonical{}}
	for _, col := range slices.Sorted(maps.Keys(rules)) {
		r := rules[col]
		if r.Type == "keep" {
			continue
		}
		doc.Rules = append(doc.Rules, canonical{
			Column:  col,
			Type:    r.Type,
			Exclude: append([]string{}, r.Exclude...),
			Random:  r.Random,
			Value:   r.Value,
			// Compile wraps the expression in parentheses: blanks
			// around it change nothing.
			Expr: strings.TrimSpace(r.Expr),
		})
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic("sanitize: encode rules: " + err.Error()) // strings and bools always encode
	}
	mac := hmac.New(sha256.New, []byte(salt))
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))[:fingerprintHex]
}

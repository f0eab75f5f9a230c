package sanitize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// MaskingVersion is the version of the masking algorithm: the expressions
// [Compile] builds. Bump it in the same commit as any change that makes an
// expression give a different output for the same value, salt and rule
// while its SQL text stays the same (the name lists or the hash input
// moving into a session variable, for example): clients compare
// [Plan.Fingerprint]s, and a changed one makes their next pull a full one,
// so that no local row keeps the old masking next to rows masked the new
// way. A change of the SQL text itself changes the fingerprint on its own.
//
// Versions: 1 is every algorithm before fingerprints existed (whatever a
// client pulled then); 2 is numbers and names from bits of CRC32(H), H over
// the binary @bf_salt_bin.
const MaskingVersion = 2

// fingerprintHex is the length of a fingerprint in hex characters (64 bits).
const fingerprintHex = 16

// Fingerprint returns the masking fingerprint of the table p was compiled
// for: 16 lowercase hex characters that change whenever the table's masked
// values would, and only then. It covers everything a masked value is made
// of: [MaskingVersion], the salt, and for each sanitized column its rule and
// the SQL expression compiled from it (which holds what the schema decides:
// the column's type and width, whether it is UNIQUE, the key it derives
// from), with the session variables other than the salt (exclude patterns,
// fixed values). The same configuration and schema give the same string in
// every run, whatever the order of the rules in the file. A table without
// rules has one too, so that its first rule is noticed; "keep" rules count
// as no rule.
//
// It is HMAC-SHA256 keyed by the salt, truncated: it does not show the salt,
// and it takes a guess at the salt to check it against. As with the masked
// values themselves, a short or guessable salt can be found that way;
// bf-init makes a random one of 64 characters.
func (p *Plan) Fingerprint(salt string) string {
	return p.fingerprint(MaskingVersion, salt)
}

func (p *Plan) fingerprint(version int, salt string) string {
	// column is one sanitized column with everything that decides its
	// output: the rule as written and the expression compiled from it.
	type column struct {
		Column  string   `json:"column"`
		Type    string   `json:"type"`
		Exclude []string `json:"exclude"`
		Random  bool     `json:"random"`
		Value   *string  `json:"value"`
		Expr    string   `json:"expr"`
		SQL     string   `json:"sql"`
	}
	type variable struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	doc := struct {
		Version int        `json:"version"`
		Columns []column   `json:"columns"`
		Vars    []variable `json:"vars"`
	}{Version: version, Columns: []column{}, Vars: []variable{}}
	// Columns come in table order, rules in sorted order: both are
	// independent of how the configuration file is written.
	for _, c := range p.Columns {
		if !c.Sanitized() {
			continue
		}
		r := c.Rule
		doc.Columns = append(doc.Columns, column{
			Column:  c.Name,
			Type:    r.Type,
			Exclude: append([]string{}, r.Exclude...),
			Random:  r.Random,
			Value:   r.Value,
			Expr:    r.Expr,
			SQL:     c.Expr,
		})
	}
	for _, v := range p.Vars {
		if v.Name == SaltVar || v.Name == SaltBinVar {
			continue // the key of the HMAC
		}
		doc.Vars = append(doc.Vars, variable{Name: v.Name, Value: v.Value})
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic("sanitize: encode plan: " + err.Error()) // strings and bools always encode
	}
	mac := hmac.New(sha256.New, []byte(salt))
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))[:fingerprintHex]
}

// MinSaltLength is the shortest salt that draws no warning: 16 random
// characters are out of reach of an offline guess. bf-init makes 64.
const MinSaltLength = 16

// SaltProblem says what is wrong with salt as the key of deterministic
// masking, with what to do; "" when nothing is. A salt is only checked for
// being empty or short: its randomness cannot be seen.
func SaltProblem(salt string) string {
	const fix = "; set BACKFILL_SALT or [server] salt to a long random secret (openssl rand -hex 32)"
	switch {
	case salt == "":
		return "[server] salt is empty: masked values are unkeyed hashes that anyone can recompute from a guessed original" + fix
	case len(salt) < MinSaltLength:
		return fmt.Sprintf("[server] salt is only %d characters: a salt that short can be guessed offline, from a masked value whose original is known or from the manifest's masking fingerprints", len(salt)) + fix
	}
	return ""
}

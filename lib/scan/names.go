package scan

import (
	"strings"
	"unicode"
)

// Kinds of sensitive data a finding can be about.
const (
	KindEmail      = "email"
	KindName       = "name"
	KindUsername   = "username"
	KindPhone      = "phone"
	KindAddress    = "address"
	KindIP         = "ip"
	KindPassword   = "password"
	KindSecret     = "secret"
	KindNationalID = "national-id"
	KindTaxID      = "tax-id"
	KindBank       = "bank-account"
	KindCard       = "card"
	KindBirth      = "birth-date"
	KindLocation   = "location"
	KindPhoto      = "photo"
	KindToken      = "jwt"
	KindFreeText   = "free-text"
)

// what describes each kind in reasons ("name suggests an email address").
var what = map[string]string{
	KindEmail:      "an email address",
	KindName:       "a person's name",
	KindUsername:   "a username",
	KindPhone:      "a phone number",
	KindAddress:    "a postal address",
	KindIP:         "an IP address",
	KindPassword:   "a password or password hash",
	KindSecret:     "a secret (token, key or recovery code)",
	KindNationalID: "a national ID, passport or social security number",
	KindTaxID:      "a tax ID",
	KindBank:       "a bank account number",
	KindCard:       "payment card data",
	KindBirth:      "a date or place of birth",
	KindLocation:   "a geographic location",
	KindPhoto:      "a photo or signature of a person",
	KindToken:      "a JSON Web Token",
	KindFreeText:   "free text with personal data",
}

// class is what a column's type lets it hold.
type class int

const (
	classOther class = iota
	classText
	classBinary
	classInt  // integers wide enough for an ID or a phone number
	classNum  // other numbers: small integers, decimals, floats
	classBool // TINYINT(1), BIT(1), BOOL: a flag, never data about a person
	classTime
	classSpatial
	classEnum
	classInet // MariaDB INET4 / INET6
)

func classify(dataType, columnType string) class {
	ct := strings.ToLower(columnType)
	switch strings.ToLower(dataType) {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json":
		return classText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return classBinary
	case "tinyint":
		if strings.HasPrefix(ct, "tinyint(1)") {
			return classBool
		}
		return classNum
	case "bit":
		if ct == "bit(1)" || ct == "bit" {
			return classBool
		}
		return classNum
	case "bool", "boolean":
		return classBool
	case "smallint", "year", "decimal", "numeric", "float", "double", "real":
		return classNum
	case "mediumint", "int", "integer", "bigint":
		return classInt
	case "date", "datetime", "timestamp", "time":
		return classTime
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		return classSpatial
	case "enum", "set":
		return classEnum
	case "inet4", "inet6":
		return classInet
	}
	return classOther
}

// tokens splits a column name into lowercase words: "lastLoginIP" and
// "last_login_ip" both give [last login ip]; "address1" gives [address].
func tokens(name string) []string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteByte('_')
		}
	}
	var out []string
	for _, t := range strings.Split(b.String(), "_") {
		if t == "" {
			continue
		}
		// address1, email2: the number only tells copies apart.
		if trimmed := strings.TrimRight(t, "0123456789"); trimmed != "" {
			t = trimmed
		}
		out = append(out, t)
	}
	return out
}

func has(ts []string, words ...string) bool {
	for _, t := range ts {
		for _, w := range words {
			if t == w {
				return true
			}
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

func in(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// metaSuffixes end names of columns that describe a sensitive value
// without holding it: email_verified_at, phone_type, password_changed.
var metaSuffixes = []string{"at", "on", "count", "cnt", "type", "types", "status", "state", "enabled", "disabled",
	"verified", "confirmed", "flag", "template", "format", "length", "len", "provider", "driver", "visibility",
	"visible", "public", "preference", "preferences", "opt", "optin", "sent", "changed", "updated", "expires",
	"expiry", "expiration", "valid", "required", "policy", "version", "strength", "attempts", "label",
	"subject", "body", "content", "html", "message", "host", "port", "server", "config", "settings", "mode",
	"brand", "model", "os", "app", "device", "last", "four", "digits", "country", "region", "prefix", "extension",
	"ext", "lookup", "hidden", "consent", "notifications", "notification", "algo", "algorithm", "cost", "rounds"}

// metaPrefixes start names of flags and counters: is_mobile, has_password.
var metaPrefixes = []string{"is", "has", "can", "should", "allow", "show", "hide", "use", "num", "total", "needs", "must"}

// personTables are (singular) table names whose rows are people.
var personTables = []string{"user", "customer", "member", "person", "people", "employee", "staff", "contact",
	"client", "patient", "student", "author", "profile", "guest", "subscriber", "applicant", "candidate",
	"driver", "owner", "tenant", "buyer", "seller", "recipient", "lead", "volunteer", "teacher", "attendee",
	"participant", "admin", "administrator", "agent", "passenger", "visitor", "player", "doctor", "nurse",
	"signer", "beneficiary", "worker", "traveler", "traveller", "account", "actor", "speaker", "instructor",
	"learner", "resident", "citizen", "respondent", "reviewer", "user_profile"}

// personQualifiers before "name" make it a person's name: first_name,
// billing_name, holder_name.
var personQualifiers = []string{"first", "last", "given", "family", "middle", "maiden", "full", "display", "nick",
	"user", "real", "legal", "birth", "contact", "customer", "client", "billing", "shipping", "recipient", "sender",
	"holder", "owner", "person", "patient", "employee", "member", "author", "guest", "buyer", "seller", "parent",
	"spouse", "guardian", "emergency", "beneficiary", "passenger", "tenant", "landlord", "student", "teacher",
	"doctor", "signer", "signatory", "login", "screen", "sur", "fore", "christian", "mother", "father", "partner",
	"referrer", "applicant", "attendee", "driver"}

// singular strips a plural ending: users → user, addresses → address,
// people → person.
func singular(s string) string {
	switch {
	case s == "people":
		return "person"
	case s == "staff":
		return s
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "xes"), strings.HasSuffix(s, "ches"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss"):
		return s[:len(s)-1]
	}
	return s
}

// isPersonTable reports whether a table's name says its rows are people:
// users, team_members, people.
func isPersonTable(table string) bool {
	ts := tokens(table)
	if len(ts) == 0 {
		return false
	}
	return in(singular(ts[len(ts)-1]), personTables...)
}

// nameKind is the outcome of the name heuristics for one column.
type nameKind struct {
	kind   string
	reason string // "" means "name suggests <what>"
}

// byName applies the column-name heuristics. table is the table's name;
// personTable is true when the table holds people (by its name or because
// other columns are clearly personal), which makes a bare "name" a person's
// name. It returns "" when the name says nothing.
func byName(table, column string, cl class, personTable bool) nameKind {
	if cl == classBool || cl == classEnum || cl == classOther {
		return nameKind{}
	}
	ts := tokens(column)
	if len(ts) == 0 {
		return nameKind{}
	}
	c := strings.Join(ts, "")
	n := strings.Join(ts, "_")
	last := ts[len(ts)-1]
	tableTokens := tokens(table)
	tableSingular := ""
	if len(tableTokens) > 0 {
		tableSingular = singular(tableTokens[len(tableTokens)-1])
	}
	text := cl == classText || cl == classBinary
	if in(ts[0], metaPrefixes...) && len(ts) > 1 {
		return nameKind{}
	}
	// Laravel's sessions table: the id is the session cookie, the payload
	// the serialized session (often with personal data).
	if (tableSingular == "session") && text && in(n, "id", "payload") {
		return nameKind{kind: KindSecret, reason: "the " + n + " of a sessions table is a live session"}
	}
	if (text || cl == classTime) && in(n, "born_on", "born_at", "birth_date", "birth_day", "birth_at", "birth_on") {
		return nameKind{kind: KindBirth}
	}
	if in(last, metaSuffixes...) && len(ts) > 1 {
		return nameKind{}
	}
	if last == "id" && len(ts) > 1 && !containsAny(c, "national", "tax", "vat", "passport", "social", "steuer", "identity", "session", "personal") {
		return nameKind{} // a foreign key: address_id, email_id
	}
	switch {
	// Secrets before passwords: password_reset_token is a token.
	case text && (in(last, "token", "tokens", "secret", "secrets", "apikey", "salt", "otp", "totp", "passphrase", "nonce") ||
		in(c, "twofactorrecoverycodes", "recoverycodes", "backupcodes", "recoverycode", "pin", "pincode", "securityanswer",
			"sessionid", "sessionkey", "mfasecret", "otpsecret", "totpsecret", "privatekey", "secretkey", "apikey",
			"accesskey", "encryptionkey", "signingkey", "licensekey", "authkey", "clientsecret", "webhooksecret") ||
		(last == "key" && len(ts) > 1 && in(ts[len(ts)-2], "api", "secret", "private", "access", "encryption", "license", "signing", "auth", "activation", "reset", "recovery"))):
		return nameKind{kind: KindSecret}
	case text && (containsAny(c, "password", "passwd", "passcode", "passwort") || in(n, "pwd", "pass", "pw", "pw_hash", "pass_hash", "pwhash", "hashed_pw") ||
		(len(ts) > 1 && in(last, "pass", "pwd", "pw")) ||
		(last == "hash" && len(ts) > 1 && !has(ts, "file", "content", "image", "commit", "git", "etag", "md", "sha", "checksum", "blob", "row", "data", "body", "url", "path", "cache"))):
		return nameKind{kind: KindPassword}
	case text && (containsAny(c, "email") || has(ts, "mail")) && !containsAny(c, "mailing", "mailer", "mailbox"):
		return nameKind{kind: KindEmail}
	case (text || cl == classInt || cl == classInet) && (has(ts, "ip", "ipv", "ipaddr") || in(c, "ipaddress", "remoteaddr", "remoteaddress", "clientaddr",
		"clientaddress", "xforwardedfor", "forwardedfor", "lastip", "ipaddresses")):
		return nameKind{kind: KindIP}
	case (text || cl == classInt || cl == classNum) && (has(ts, "cvv", "cvc", "cvv2", "cvc2", "cvn", "csc") || containsAny(c, "securitycode", "cardverification", "cardcode")):
		return nameKind{kind: KindCard, reason: "name suggests a card security code"}
	case text && (containsAny(c, "cardholder", "accountholder") || in(c, "nameoncard")):
		return nameKind{kind: KindName}
	case (text || cl == classInt || cl == classNum) && (containsAny(c, "cardnumber", "creditcard", "debitcard", "ccnumber", "cardno", "ccnum", "primaryaccountnumber") || n == "pan"):
		return nameKind{kind: KindCard, reason: "name suggests a payment card number"}
	case (text || cl == classInt || cl == classNum) && (has(ts, "iban") || containsAny(c, "bankaccount", "accountnumber", "accountno", "routingnumber", "sortcode", "bsb")):
		return nameKind{kind: KindBank}
	case (text || cl == classInt) && (has(ts, "ssn", "sin", "nin", "nino", "bsn", "cpf", "aadhaar", "nric", "personnummer") ||
		containsAny(c, "socialsecurity", "nationalid", "nationalinsurance", "passport", "driverslicense", "driverlicense",
			"driverslicence", "drivinglicence", "drivinglicense", "idcard", "idnumber", "identitynumber", "identitycard", "personalnumber", "personalid")):
		return nameKind{kind: KindNationalID}
	case (text || cl == classInt) && (containsAny(c, "taxid", "taxnumber", "taxno", "taxcode", "taxvat", "vatid", "vatnumber", "vatno", "steuerid", "steuernummer", "taxpayer") || in(n, "tin", "ein", "itin", "utr")):
		return nameKind{kind: KindTaxID}
	case (text || cl == classTime || cl == classInt || cl == classNum) && (containsAny(c, "birth", "geburt") || in(n, "dob", "born", "born_on", "born_at")):
		return nameKind{kind: KindBirth}
	case (text || cl == classInt || cl == classNum) && (has(ts, "phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "msisdn", "whatsapp", "landline") ||
		containsAny(c, "phone", "mobilenumber", "faxnumber", "contactnumber", "telefon")) && !has(ts, "country"):
		return nameKind{kind: KindPhone}
	case text && (containsAny(c, "macaddress", "walletaddress", "contractaddress", "btcaddress", "ethaddress", "webaddress", "urladdress")):
		return nameKind{}
	case text && (containsAny(c, "address", "street", "housenumber", "houseno", "pobox", "postbox", "strasse", "straße", "adresse") || has(ts, "addr", "apartment", "apt")):
		return nameKind{kind: KindAddress}
	case (text || cl == classInt) && (has(ts, "zip", "zipcode", "postcode", "postal", "postalcode", "plz") || containsAny(c, "zipcode", "postcode", "postalcode")):
		return nameKind{kind: KindAddress, reason: "name suggests a postal code"}
	case text && has(ts, "city", "town"):
		if tableSingular == n {
			return nameKind{} // city.city: a lookup table of places, not where someone lives
		}
		return nameKind{kind: KindAddress, reason: "name suggests a city of an address"}
	case (text || cl == classNum || cl == classInt || cl == classSpatial) && has(ts, "latitude", "longitude", "lat", "lng", "lon", "geo", "geolocation", "coordinates", "coords", "gps"):
		return nameKind{kind: KindLocation}
	case cl == classSpatial && has(ts, "location", "position", "point", "place", "home", "geom", "geometry", "coordinate", "pos"):
		return nameKind{kind: KindLocation, reason: "spatial column: a geographic location"}
	case cl == classBinary && has(ts, "photo", "picture", "avatar", "selfie", "portrait", "headshot", "signature", "face", "fingerprint", "biometric", "biometrics"):
		return nameKind{kind: KindPhoto}
	case text && in(c, "firstname", "lastname", "surname", "forename", "givenname", "familyname", "middlename", "maidenname",
		"fullname", "displayname", "nickname", "realname", "legalname", "birthname", "contactperson", "vorname", "nachname",
		"author", "commentauthor", "authorname"):
		return nameKind{kind: KindName}
	case text && (in(c, "username", "login", "loginname", "screenname", "userlogin", "handle") || containsAny(c, "nicename")):
		return nameKind{kind: KindUsername}
	case text && last == "name" && len(ts) > 1 && in(ts[len(ts)-2], personQualifiers...):
		if ts[len(ts)-2] == "user" || ts[len(ts)-2] == "login" || ts[len(ts)-2] == "screen" {
			return nameKind{kind: KindUsername}
		}
		return nameKind{kind: KindName}
	case text && in(n, "name", "names") && personTable:
		return nameKind{kind: KindName, reason: "a name in a table of people (" + table + ")"}
	}
	return nameKind{}
}

// personal kinds make a table a table of people, and with it its bare
// "name" column a person's name.
func personal(kind string) bool {
	switch kind {
	case KindEmail, KindPhone, KindBirth, KindNationalID, KindPassword, KindName, KindUsername:
		return true
	}
	return false
}

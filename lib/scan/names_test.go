package scan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	for in, want := range map[string][]string{
		"last_login_ip":  {"last", "login", "ip"},
		"lastLoginIP":    {"last", "login", "ip"},
		"LastLoginIp":    {"last", "login", "ip"},
		"IPAddress":      {"ip", "address"},
		"first name":     {"first", "name"},
		"address1":       {"address"},
		"address_line_2": {"address", "line", "2"},
		"e-mail":         {"e", "mail"},
		"größe":          {"größe"},
		"back`tick":      {"back", "tick"},
		"__x__":          {"x"},
	} {
		if diff := cmp.Diff(want, tokens(in)); diff != "" {
			t.Errorf("tokens(%q) mismatch (-want +got):\n%s", in, diff)
		}
	}
}

func TestByName(t *testing.T) {
	tests := []struct {
		table, column, dataType, columnType string
		want                                string
	}{
		// emails
		{"users", "email", "varchar", "varchar(255)", KindEmail},
		{"users", "e_mail", "varchar", "varchar(255)", KindEmail},
		{"orders", "billing_email", "varchar", "varchar(255)", KindEmail},
		{"users", "EmailAddress", "varchar", "varchar(255)", KindEmail},
		{"newsletter", "mail", "varchar", "varchar(255)", KindEmail},
		{"users", "email_verified_at", "timestamp", "timestamp", ""},
		{"users", "email_verified", "tinyint", "tinyint(1)", ""},
		{"mails", "email_template", "text", "text", ""},
		{"users", "email_notifications", "tinyint", "tinyint(4)", ""},
		{"campaigns", "mailing_list", "varchar", "varchar(50)", ""},
		// names
		{"customers", "first_name", "varchar", "varchar(100)", KindName},
		{"customers", "firstName", "varchar", "varchar(100)", KindName},
		{"customers", "lastname", "varchar", "varchar(100)", KindName},
		{"people", "surname", "varchar", "varchar(100)", KindName},
		{"authors", "full_name", "varchar", "varchar(100)", KindName},
		{"orders", "shipping_name", "varchar", "varchar(100)", KindName},
		{"payments", "card_holder_name", "varchar", "varchar(100)", KindName},
		{"users", "username", "varchar", "varchar(100)", KindUsername},
		{"users", "user_name", "varchar", "varchar(100)", KindUsername},
		{"users", "login", "varchar", "varchar(100)", KindUsername},
		{"users", "name", "varchar", "varchar(100)", KindName},
		{"team_members", "name", "varchar", "varchar(100)", KindName},
		{"products", "name", "varchar", "varchar(100)", ""},
		{"categories", "name", "varchar", "varchar(100)", ""},
		{"files", "file_name", "varchar", "varchar(100)", ""},
		{"companies", "company_name", "varchar", "varchar(100)", ""},
		// phones
		{"users", "phone", "varchar", "varchar(32)", KindPhone},
		{"users", "phone_number", "varchar", "varchar(32)", KindPhone},
		{"users", "mobile", "varchar", "varchar(32)", KindPhone},
		{"users", "telephone", "bigint", "bigint(20)", KindPhone},
		{"contacts", "fax", "varchar", "varchar(32)", KindPhone},
		{"contacts", "cellPhone", "varchar", "varchar(32)", KindPhone},
		{"sessions", "is_mobile", "tinyint", "tinyint(1)", ""},
		{"users", "phone_verified_at", "datetime", "datetime", ""},
		{"users", "phone_country_code", "varchar", "varchar(4)", ""},
		{"visits", "mobile_os", "varchar", "varchar(20)", ""},
		// addresses
		{"users", "address", "varchar", "varchar(255)", KindAddress},
		{"address", "address2", "varchar", "varchar(255)", KindAddress},
		{"orders", "shipping_address", "text", "text", KindAddress},
		{"customers", "street", "varchar", "varchar(255)", KindAddress},
		{"customers", "house_number", "varchar", "varchar(10)", KindAddress},
		{"customers", "city", "varchar", "varchar(100)", KindAddress},
		{"city", "city", "varchar", "varchar(100)", ""},
		{"customers", "zip", "varchar", "varchar(10)", KindAddress},
		{"customers", "zip_code", "int", "int(11)", KindAddress},
		{"address", "postal_code", "varchar", "varchar(10)", KindAddress},
		{"customers", "postcode", "varchar", "varchar(10)", KindAddress},
		{"customers", "address_id", "int", "int(11)", ""},
		{"devices", "mac_address", "varchar", "varchar(17)", ""},
		{"wallets", "wallet_address", "varchar", "varchar(64)", ""},
		// IPs
		{"users", "ip", "varchar", "varchar(45)", KindIP},
		{"users", "last_login_ip", "varchar", "varchar(45)", KindIP},
		{"sessions", "ip_address", "varchar", "varchar(45)", KindIP},
		{"logs", "remote_addr", "varchar", "varchar(45)", KindIP},
		{"logs", "client_ip", "int", "int(10) unsigned", KindIP},
		{"logs", "ip", "varbinary", "varbinary(16)", KindIP},
		{"logs", "ip", "inet6", "inet6", KindIP},
		{"shipments", "zip", "varchar", "varchar(10)", KindAddress}, // not an "ip"
		{"logs", "ip_country", "char", "char(2)", ""},
		// passwords and secrets
		{"users", "password", "varchar", "varchar(255)", KindPassword},
		{"users", "encrypted_password", "varchar", "varchar(255)", KindPassword},
		{"users", "password_digest", "varchar", "varchar(255)", KindPassword},
		{"users", "pin_hash", "varchar", "varchar(255)", KindPassword},
		{"files", "content_hash", "char", "char(64)", ""},
		{"users", "password_changed_at", "datetime", "datetime", ""},
		{"users", "must_change_password", "tinyint", "tinyint(1)", ""},
		{"users", "remember_token", "varchar", "varchar(100)", KindSecret},
		{"users", "api_token", "varchar", "varchar(80)", KindSecret},
		{"oauth", "access_token", "text", "text", KindSecret},
		{"oauth", "refresh_token", "text", "text", KindSecret},
		{"users", "two_factor_secret", "text", "text", KindSecret},
		{"users", "two_factor_recovery_codes", "text", "text", KindSecret},
		{"clients", "client_secret", "varchar", "varchar(100)", KindSecret},
		{"integrations", "api_key", "varchar", "varchar(100)", KindSecret},
		{"integrations", "apiKey", "varchar", "varchar(100)", KindSecret},
		{"password_resets", "token", "varchar", "varchar(255)", KindSecret},
		{"users", "password_reset_token", "varchar", "varchar(255)", KindSecret},
		{"sessions", "id", "varchar", "varchar(255)", KindSecret},
		{"sessions", "payload", "longtext", "longtext", KindSecret},
		{"page_views", "session_id", "char", "char(40)", KindSecret},
		{"personal_access_tokens", "tokenable_type", "varchar", "varchar(255)", ""},
		{"tokens", "token_expires_at", "datetime", "datetime", ""},
		{"cache", "key", "varchar", "varchar(255)", ""},
		// identity numbers
		{"employees", "ssn", "char", "char(11)", KindNationalID},
		{"employees", "social_security_number", "varchar", "varchar(20)", KindNationalID},
		{"employees", "national_id", "varchar", "varchar(20)", KindNationalID},
		{"travellers", "passport_number", "varchar", "varchar(20)", KindNationalID},
		{"drivers", "drivers_license", "varchar", "varchar(20)", KindNationalID},
		{"companies", "tax_id", "varchar", "varchar(20)", KindTaxID},
		{"companies", "vat_number", "varchar", "varchar(20)", KindTaxID},
		{"companies", "ein", "varchar", "varchar(20)", KindTaxID},
		// money
		{"customers", "iban", "varchar", "varchar(34)", KindBank},
		{"payouts", "bank_account_number", "varchar", "varchar(34)", KindBank},
		{"payouts", "routing_number", "varchar", "varchar(9)", KindBank},
		{"customers", "card_number", "varchar", "varchar(19)", KindCard},
		{"payments", "credit_card", "varchar", "varchar(19)", KindCard},
		{"payments", "cc_number", "bigint", "bigint(20)", KindCard},
		{"payments", "cvv", "smallint", "smallint(6)", KindCard},
		{"payments", "card_last_four", "char", "char(4)", ""},
		{"payments", "card_brand", "varchar", "varchar(10)", ""},
		// birth, location, photos
		{"users", "date_of_birth", "date", "date", KindBirth},
		{"users", "dob", "date", "date", KindBirth},
		{"users", "birthday", "varchar", "varchar(10)", KindBirth},
		{"users", "birth_date", "datetime", "datetime", KindBirth},
		{"users", "born_on", "date", "date", KindBirth},
		{"users", "place_of_birth", "varchar", "varchar(100)", KindBirth},
		{"users", "latitude", "decimal", "decimal(10,7)", KindLocation},
		{"users", "lng", "double", "double", KindLocation},
		{"address", "location", "geometry", "geometry", KindLocation},
		{"stores", "location", "varchar", "varchar(100)", ""},
		{"staff", "picture", "blob", "blob", KindPhoto},
		{"users", "avatar", "mediumblob", "mediumblob", KindPhoto},
		{"products", "thumbnail", "blob", "blob", ""},
		// WordPress, Magento, Devise
		{"wp_users", "user_login", "varchar", "varchar(60)", KindUsername},
		{"wp_users", "user_pass", "varchar", "varchar(255)", KindPassword},
		{"wp_users", "user_nicename", "varchar", "varchar(50)", KindUsername},
		{"wp_users", "user_activation_key", "varchar", "varchar(255)", KindSecret},
		{"wp_comments", "comment_author", "tinytext", "tinytext", KindName},
		{"wp_comments", "comment_author_email", "varchar", "varchar(100)", KindEmail},
		{"wp_comments", "comment_author_IP", "varchar", "varchar(100)", KindIP},
		{"customer_entity", "taxvat", "varchar", "varchar(50)", KindTaxID},
		{"customer_entity", "rp_token", "varchar", "varchar(128)", KindSecret},
		{"users", "reset_password_token", "varchar", "varchar(255)", KindSecret},
		{"users", "current_sign_in_ip", "varchar", "varchar(45)", KindIP},
		{"users", "unconfirmed_email", "varchar", "varchar(255)", KindEmail},
		{"users", "last_login", "datetime", "datetime", ""},
		{"contacts", "contact_number", "varchar", "varchar(20)", KindPhone},
		{"kunden", "vorname", "varchar", "varchar(50)", KindName},
		{"kunden", "telefon", "varchar", "varchar(50)", KindPhone},
		{"kunden", "geburtsdatum", "date", "date", KindBirth},
		{"posts", "author_id", "int", "int(11)", ""},
		// nothing
		{"orders", "number", "varchar", "varchar(32)", ""},
		{"orders", "total", "decimal", "decimal(12,2)", ""},
		{"orders", "status", "enum", "enum('a','b')", ""},
		{"products", "sku", "varchar", "varchar(32)", ""},
		{"users", "id", "bigint", "bigint(20) unsigned", ""},
		{"users", "user_id", "bigint", "bigint(20) unsigned", ""},
		{"users", "created_at", "timestamp", "timestamp", ""},
		{"page_views", "user_agent", "varchar", "varchar(512)", ""},
		{"page_views", "referrer", "varchar", "varchar(2048)", ""},
	}
	for _, tt := range tests {
		cl := classify(tt.dataType, tt.columnType)
		got := byName(tt.table, tt.column, cl, isPersonTable(tt.table)).kind
		if got != tt.want {
			t.Errorf("byName(%s.%s %s) = %q, want %q", tt.table, tt.column, tt.columnType, got, tt.want)
		}
	}
}

func TestIsPersonTable(t *testing.T) {
	for table, want := range map[string]bool{
		"users": true, "team_members": true, "people": true, "staff": true, "customer": true, "Employees": true,
		"teams": false, "products": false, "categories": false, "addresses": false, "user_settings": false,
	} {
		if got := isPersonTable(table); got != want {
			t.Errorf("isPersonTable(%q) = %v, want %v", table, got, want)
		}
	}
}

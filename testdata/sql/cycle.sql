-- cycle.sql: the foreign-key shapes an import order must handle, small.
-- A circular pair (teams.captain_id -> members, members.team_id -> teams),
-- a self-referencing tree (categories), a composite FK (shipments ->
-- order_items), a FK to a UNIQUE key that is not the primary key
-- (redemptions.coupon_code -> coupons.code), a table without a primary key
-- (page_views, with a duplicate row), a view (views are not tables) and a
-- one-statement trigger that writes to another table (audit).
-- Plain statements, one per line, each ending in a semicolon, with no
-- DELIMITER and no semicolon inside a string or a comment.
SET NAMES utf8mb4;
CREATE TABLE teams (id INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, captain_id INT UNSIGNED NULL, KEY teams_captain_id_foreign (captain_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE members (id INT UNSIGNED NOT NULL PRIMARY KEY, team_id INT UNSIGNED NOT NULL, name VARCHAR(50) NOT NULL, KEY members_team_id_foreign (team_id), CONSTRAINT members_team_id_foreign FOREIGN KEY (team_id) REFERENCES teams (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
ALTER TABLE teams ADD CONSTRAINT teams_captain_id_foreign FOREIGN KEY (captain_id) REFERENCES members (id) ON DELETE SET NULL;
INSERT INTO teams (id, name, captain_id) VALUES (1, 'Red', NULL), (2, 'Blue', NULL), (3, 'Green', NULL);
INSERT INTO members (id, team_id, name) VALUES (1, 1, 'Ann'), (2, 1, 'Ben'), (3, 2, 'Cid'), (4, 3, 'Dee');
UPDATE teams SET captain_id = 1 WHERE id = 1;
UPDATE teams SET captain_id = 3 WHERE id = 2;
CREATE TABLE categories (id INT UNSIGNED NOT NULL PRIMARY KEY, parent_id INT UNSIGNED NULL, name VARCHAR(50) NOT NULL, KEY categories_parent_id_foreign (parent_id), CONSTRAINT categories_parent_id_foreign FOREIGN KEY (parent_id) REFERENCES categories (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO categories (id, parent_id, name) VALUES (1, NULL, 'All'), (2, 1, 'Books'), (3, 1, 'Music'), (4, 2, 'Fiction'), (5, 4, 'Crime');
CREATE TABLE orders (id INT UNSIGNED NOT NULL PRIMARY KEY, number VARCHAR(20) NOT NULL, UNIQUE KEY orders_number_unique (number)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE order_items (order_id INT UNSIGNED NOT NULL, line_no SMALLINT UNSIGNED NOT NULL, category_id INT UNSIGNED NOT NULL, quantity INT NOT NULL, PRIMARY KEY (order_id, line_no), KEY order_items_category_id_foreign (category_id), CONSTRAINT order_items_order_id_foreign FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE, CONSTRAINT order_items_category_id_foreign FOREIGN KEY (category_id) REFERENCES categories (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE shipments (id INT UNSIGNED NOT NULL PRIMARY KEY, order_id INT UNSIGNED NOT NULL, line_no SMALLINT UNSIGNED NOT NULL, carrier VARCHAR(20) NOT NULL, KEY shipments_order_item_foreign (order_id, line_no), CONSTRAINT shipments_order_item_foreign FOREIGN KEY (order_id, line_no) REFERENCES order_items (order_id, line_no)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE coupons (id INT UNSIGNED NOT NULL PRIMARY KEY, code VARCHAR(32) NOT NULL, UNIQUE KEY coupons_code_unique (code)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE redemptions (id INT UNSIGNED NOT NULL PRIMARY KEY, coupon_code VARCHAR(32) NOT NULL, order_id INT UNSIGNED NOT NULL, KEY redemptions_coupon_code_foreign (coupon_code), CONSTRAINT redemptions_coupon_code_foreign FOREIGN KEY (coupon_code) REFERENCES coupons (code), CONSTRAINT redemptions_order_id_foreign FOREIGN KEY (order_id) REFERENCES orders (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE page_views (order_id INT UNSIGNED NULL, url VARCHAR(255) NOT NULL, viewed_at DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE audit (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, order_id INT UNSIGNED NOT NULL, note VARCHAR(100) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit (order_id, note) VALUES (NEW.id, CONCAT('created ', NEW.number));
CREATE VIEW order_summary AS SELECT o.id, o.number, COUNT(i.line_no) AS line_count FROM orders o LEFT JOIN order_items i ON i.order_id = o.id GROUP BY o.id, o.number;
INSERT INTO orders (id, number) VALUES (1, 'ORD-1'), (2, 'ORD-2'), (3, 'ORD-3');
INSERT INTO order_items (order_id, line_no, category_id, quantity) VALUES (1, 1, 4, 2), (1, 2, 5, 1), (2, 1, 3, 7), (3, 1, 2, 1), (3, 2, 2, 3);
INSERT INTO shipments (id, order_id, line_no, carrier) VALUES (1, 1, 1, 'DHL'), (2, 1, 2, 'UPS'), (3, 3, 2, 'La Poste');
INSERT INTO coupons (id, code) VALUES (1, 'SUMMER_20%'), (2, 'SUMMERX20X'), (3, 'WELCOME');
INSERT INTO redemptions (id, coupon_code, order_id) VALUES (1, 'SUMMER_20%', 1), (2, 'WELCOME', 2), (3, 'WELCOME', 3);
INSERT INTO page_views (order_id, url, viewed_at) VALUES (1, '/checkout', '2025-11-01 10:00:00'), (1, '/checkout', '2025-11-01 10:00:00'), (NULL, '/', '2025-11-02 11:00:00');

-- types.sql: odd types, values and identifiers in one small table for CLI
-- scripts: the reserved word `group` as a table name, `order`, a space, a
-- backtick and a non-ASCII letter in column names, integer extremes signed
-- and unsigned, BIT(1) and BIT(64), FLOAT and DOUBLE extremes, DECIMAL(65,30),
-- YEAR, negative TIME(6), TIMESTAMP(3), the zero DATE, a latin1 column,
-- BINARY(16) and VARBINARY with NUL and 0xFF, JSON, ENUM, SET, POINT, and
-- text with emoji, quotes, newlines, tabs, NUL bytes and 0x1a.
-- Plain statements, one per line, each ending in a semicolon, with no
-- DELIMITER and no semicolon inside a string or a comment. Control characters
-- and backslashes are written with CHAR() and X'..', never with backslash
-- escapes, so the file means the same under any sql_mode that allows the zero
-- date. The mode is set first for that reason.
SET NAMES utf8mb4;
SET time_zone = '+00:00';
SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';
CREATE TABLE `group` (`id` INT UNSIGNED NOT NULL PRIMARY KEY, `order` INT NOT NULL, `first name` VARCHAR(64) NULL, `back``tick` VARCHAR(64) NULL, `größe` DECIMAL(6,2) NULL, `flag` BIT(1) NULL, `mask` BIT(64) NULL, `tiny` TINYINT NULL, `tiny_u` TINYINT UNSIGNED NULL, `big` BIGINT NULL, `big_u` BIGINT UNSIGNED NULL, `float` FLOAT NULL, `double` DOUBLE NULL, `money` DECIMAL(65,30) NULL, `year` YEAR NULL, `time6` TIME(6) NULL, `ts3` TIMESTAMP(3) NULL DEFAULT NULL, `date` DATE NULL, `latin` VARCHAR(64) CHARACTER SET latin1 NULL, `bin16` BINARY(16) NULL, `varbin` VARBINARY(64) NULL, `doc` JSON NULL, `status` ENUM('new','old') NULL, `tags` SET('a','b','c') NULL, `location` POINT NULL, `text` TEXT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO `group` (`id`, `order`, `first name`, `back``tick`, `größe`, `flag`, `mask`, `tiny`, `tiny_u`, `big`, `big_u`, `float`, `double`, `money`, `year`, `time6`, `ts3`, `date`, `latin`, `bin16`, `varbin`, `doc`, `status`, `tags`, `location`, `text`) VALUES (1, -2147483648, '', '`', -9999.99, b'0', b'0', -128, 0, -9223372036854775808, 0, -3.40282e38, -1.7976931348623157e308, -99999999999999999999999999999999999.999999999999999999999999999999, 1901, '-838:59:59.000000', '1970-01-01 00:00:01.000', '0000-00-00', '', X'00000000000000000000000000000000', X'', '{}', 'new', '', ST_GeomFromText('POINT(-180 -90)'), '');
INSERT INTO `group` (`id`, `order`, `first name`, `back``tick`, `größe`, `flag`, `mask`, `tiny`, `tiny_u`, `big`, `big_u`, `float`, `double`, `money`, `year`, `time6`, `ts3`, `date`, `latin`, `bin16`, `varbin`, `doc`, `status`, `tags`, `location`, `text`) VALUES (2, 2147483647, 'Zoë Ünïcødé 🦄', '``double``', 9999.99, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 127, 255, 9223372036854775807, 18446744073709551615, 3.40282e38, 1.7976931348623157e308, 99999999999999999999999999999999999.999999999999999999999999999999, 2155, '838:59:59.000000', '2038-01-19 03:14:07.999', '9999-12-31', 'Ærøskøbing café', X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', X'001A27225C0A0D0980FF', JSON_OBJECT('quote', 'He said "hi"', 'emoji', '🎉', 'list', JSON_ARRAY(1, 2.5, NULL)), 'old', 'a,b,c', ST_GeomFromText('POINT(180 90)'), CONCAT('quote '' double " backslash ', CHAR(92 USING utf8mb4), ' newline', CHAR(10 USING utf8mb4), 'tab', CHAR(9 USING utf8mb4), 'nul', CHAR(0 USING utf8mb4), 'ctrl-z', CHAR(26 USING utf8mb4), ' emoji 😀👍🏽'));
INSERT INTO `group` (`id`, `order`) VALUES (3, 0);
INSERT INTO `group` (`id`, `order`, `first name`, `year`, `time6`, `ts3`, `date`, `text`, `money`) VALUES (4, -4, CONCAT('Robert'')', CHAR(59 USING utf8mb4), ' DROP TABLE students', CHAR(59 USING utf8mb4), '--'), 0, '-00:00:00.000001', '2024-02-29 23:59:59.999', '2024-02-29', CONCAT('-- backfill end rows=1', CHAR(10 USING utf8mb4), 'INSERT INTO `group` VALUES (1)'), 0.000000000000000000000000000001);

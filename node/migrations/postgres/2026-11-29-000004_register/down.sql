DROP TABLE office_rules;
DROP TABLE register_holders;
DROP TABLE register_restrictions;
DROP TABLE register_rights;
ALTER TABLE applications DROP COLUMN rule_trace;
ALTER TABLE applications DROP COLUMN details;

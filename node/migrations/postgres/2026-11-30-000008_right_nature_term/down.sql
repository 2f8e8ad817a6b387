ALTER TABLE register_rights DROP COLUMN term;
ALTER TABLE register_rights DROP COLUMN nature;

-- 权利性质 (QLXZ code) and 使用期限 (stored as 'YYYY-MM-DD/YYYY-MM-DD') of a right, printed on its certificate.
ALTER TABLE register_rights ADD COLUMN nature INTEGER;
ALTER TABLE register_rights ADD COLUMN term TEXT;

-- Files attached to an online application's checklist items (申请材料). The bytes are sealed
-- with the data key (`content`: sm4gcm:<key id>:<base64>, bound to the business number, the item
-- and the hash); `sm3` is the SM3 hash of the file as uploaded. Rows are never changed or
-- deleted by the node: a later file for the same item is a new row.
CREATE TABLE application_materials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    division TEXT NOT NULL,
    business_no TEXT NOT NULL,
    material_id TEXT NOT NULL,
    format TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sm3 TEXT NOT NULL,
    content TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX application_materials_by_business ON application_materials (division, business_no, material_id);

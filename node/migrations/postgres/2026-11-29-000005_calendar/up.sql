-- The year's arrangement of public holidays (法定节假日) and make-up working days (调休上班), as the
-- State Council publishes it; every other day follows the weekday rule. Node-wide (not per office).
CREATE TABLE calendar_days (
    day DATE PRIMARY KEY,
    working BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

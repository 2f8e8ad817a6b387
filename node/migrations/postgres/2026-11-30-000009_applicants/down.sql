DROP TABLE sms_codes;
DROP TABLE applicant_sessions;
DROP TABLE applicants;

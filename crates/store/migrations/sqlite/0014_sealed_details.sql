-- What a monitoring rule matched and an audit entry's detail, sealed like the rest of the
-- personal data (the clear columns stay for older rows until the next start seals them, and
-- are left empty from then on).
ALTER TABLE compliance_flags ADD COLUMN matched_sealed BLOB;
ALTER TABLE audit_log ADD COLUMN detail_sealed BLOB;

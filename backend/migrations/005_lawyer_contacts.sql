-- 005: how a client reaches a lawyer. Each field may be missing (NULL) for a real directory entry;
-- the page then shows the ones on file. The checks keep what the page turns into links harmless:
-- a phone number holds only digits, spaces and + ( ) - . ; an intake URL is https only.
ALTER TABLE lawyers ADD COLUMN phone TEXT
  CHECK (phone IS NULL OR (length(phone) BETWEEN 7 AND 32 AND phone NOT GLOB '*[^0-9 +().-]*'));
ALTER TABLE lawyers ADD COLUMN email TEXT
  CHECK (email IS NULL OR (length(email) <= 254 AND email GLOB '?*@?*.?*' AND email NOT GLOB '*[ <>"''?&%]*'));
ALTER TABLE lawyers ADD COLUMN office_address TEXT
  CHECK (office_address IS NULL OR length(office_address) BETWEEN 1 AND 200);
ALTER TABLE lawyers ADD COLUMN intake_url TEXT
  CHECK (intake_url IS NULL OR (length(intake_url) <= 500 AND intake_url GLOB 'https://?*' AND intake_url NOT GLOB '*[ <>"'']*'));

-- The directory so far is synthetic (scripts/generate_lawyers.js): give the rows it already holds
-- the same obviously fictional contacts the generator now writes (see contactFor() there), so a
-- database seeded before this migration and a fresh one agree. 555-01xx numbers are reserved for
-- fiction, example.org for examples. Rows that already have any contact are left alone.
UPDATE lawyers SET
  phone = '+1 ' || substr('815779309630217224331847', ((id / 100) % 8) * 3 + 1, 3) || '-555-01' || printf('%02d', id % 100),
  email = 'lawyer' || id || '@example.org',
  office_address = (100 + id) || ' Example Street, Suite ' || (id % 9 + 1) || ', '
    || upper(substr(region, 1, 1)) || substr(region, 2) || ' District (fictional)',
  intake_url = 'https://example.org/intake/lawyer-' || id
WHERE phone IS NULL AND email IS NULL AND office_address IS NULL AND intake_url IS NULL;

-- Service names in other languages, migration 4: a JSON object from language code to the name
-- a patient writing in that language reads ({"en": "Filling, light-cured"}). Empty when the
-- price list gives none: replies then use `name`, the clinic's own wording. Filled from the
-- price list's optional `name_<lang>` columns; synced like the rest of the row.

ALTER TABLE services ADD COLUMN names TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(names) AND json_type(names) = 'object');
